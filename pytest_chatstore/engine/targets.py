"""Targets: what the suite runs against, and how a fresh store is built from one.

A target is a ``MODULE:ATTR`` string naming a class or a callable (the
*factory*), or a factory handed over by a ``chatstore_factory`` fixture. For
every test example the kit calls the factory with the keyword arguments it
accepts, chosen by parameter name from :data:`INJECTABLE` (``ttl``, ``clock``,
``redis_url``, ``namespace``: stores built with the same one share their data;
``proxied``: a callable mapping a server's host and port to the address to
connect to, the kit's fault proxy in the faults clauses and the address itself
everywhere else).
A factory may return the store, be a generator function that yields it (code
after the ``yield`` is the tear-down), or return a context manager whose
``__enter__`` gives the store.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import inspect
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pytest_chatstore.servers.proxy import direct

INJECTABLE = ("ttl", "clock", "redis_url", "namespace", "proxied")
"""Keyword arguments the kit passes to a factory that names them."""


EXTRAS = {
    "redis": "redis",
    "fakeredis": "redis",
    "testcontainers": "docker",
    "llama_index": "llamaindex",
    "langchain_core": "langchain",
    "agents": "agents",
    "google.adk": "adk",
}
"""A missing module -> the extra of this package that installs it (named when a target cannot be imported)."""


class TargetError(Exception):
    """A target string or factory the kit cannot use; the message says why and where it came from."""


@dataclass(frozen=True)
class Target:
    """A factory of stores and where it came from."""

    name: str
    """Short name for test IDs and reports (the ``ATTR`` part, or the fixture name)."""
    spec: str
    """What the user wrote (``mypkg.stores:MyStore``) or ``fixture:chatstore_factory``."""
    source: str
    """Where it came from: ``--chatstore``, ``ini chatstore``, ``env CHATSTORE`` or a fixture."""
    factory: Callable[..., Any] = field(compare=False)
    accepts: frozenset[str] = frozenset()
    """The names from :data:`INJECTABLE` the factory accepts."""


def parse_target(spec: str, source: str, search_dir: Path | None = None) -> Target:
    """Resolve ``MODULE:ATTR`` (``ATTR`` may be dotted) into a :class:`Target`.

    A module that is not importable as installed is looked for in
    ``search_dir`` too (pytest's invocation directory), as ``python -m`` would.
    Raises :class:`TargetError` naming ``spec`` and ``source`` when the string is
    malformed, the module cannot be imported, the attribute is missing, or it is
    not callable.
    """
    where = f"{source} {spec!r}"
    module_name, sep, attr_path = spec.strip().partition(":")
    if not sep or not module_name or not attr_path:
        raise TargetError(f"{where}: expected MODULE:ATTR, for example mypkg.stores:MyStore")
    try:
        obj: Any = _import(module_name, search_dir)
    except Exception as exc:
        extra = EXTRAS.get(getattr(exc, "name", None) or "")
        hint = f" (pip install 'pytest-chatstore[{extra}]')" if extra else ""
        raise TargetError(f"{where}: cannot import {module_name!r}: {type(exc).__name__}: {exc}{hint}") from exc
    for part in attr_path.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise TargetError(f"{where}: {module_name!r} has no attribute {attr_path!r}") from None
    return target_from_factory(obj, name=attr_path.rpartition(".")[2], spec=spec, source=source)


def _import(module_name: str, search_dir: Path | None) -> Any:
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        top = module_name.partition(".")[0]
        if exc.name != top or search_dir is None or str(search_dir) in sys.path:
            raise
        sys.path.insert(0, str(search_dir))
        return importlib.import_module(module_name)


def target_from_factory(factory: object, *, name: str, spec: str, source: str) -> Target:
    """Wrap a callable in a :class:`Target`, reading which injectable names it accepts."""
    if not callable(factory):
        raise TargetError(f"{source} {spec!r}: {factory!r} is not a class or a callable")
    from pytest_chatstore.adapters import as_factory

    factory = as_factory(factory)
    missing = required_parameters(factory)
    if missing:
        raise TargetError(
            f"{source} {spec!r}: the factory requires {', '.join(repr(m) for m in missing)}, which the kit cannot "
            f"give (it passes only {', '.join(INJECTABLE)}, by name, to a factory that takes them). Name a "
            "factory that supplies the rest instead, for example `def make_store(): return MyStore(dsn=...)` "
            "(docs/how-to/register-a-store.md)"
        )
    return Target(name=name, spec=spec, source=source, factory=factory, accepts=accepted_parameters(factory))


def accepted_parameters(factory: Callable[..., Any]) -> frozenset[str]:
    """The names from :data:`INJECTABLE` that ``factory`` takes as keyword arguments.

    Only explicitly named parameters count: a ``**kwargs`` catch-all is not
    taken as a promise to understand ``ttl``.
    """
    try:
        params = inspect.signature(factory).parameters
    except (TypeError, ValueError):
        return frozenset()
    usable = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    return frozenset(n for n, p in params.items() if n in INJECTABLE and p.kind in usable)


def required_parameters(factory: Callable[..., Any]) -> list[str]:
    """The parameters ``factory`` cannot be called without that are not the kit's to give (a class's
    ``dsn``): such a target can never be built, so it is refused before anything runs."""
    try:
        params = inspect.signature(factory).parameters
    except (TypeError, ValueError):
        return []
    plain = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    return [
        n
        for n, p in params.items()
        if p.kind in plain
        and p.default is inspect.Parameter.empty
        and not (n in INJECTABLE and p.kind != p.POSITIONAL_ONLY)
    ]


@contextlib.contextmanager
def build_store(target: Target, **kwargs: Any) -> Iterator[Any]:
    """Build one store from ``target``, passing only the ``kwargs`` it accepts; tear it down after.

    ``kwargs`` the factory does not accept are dropped; the suite asks for a
    capability before relying on one. A store the factory returned directly is
    closed afterwards with its ``aclose()`` and ``close()``, where it has them;
    generator and context-manager factories tear down their own.
    """
    given = {k: v for k, v in kwargs.items() if k in target.accepts}
    if "proxied" in target.accepts:
        given.setdefault("proxied", direct)  # outside the faults clauses: no proxy
    made = target.factory(**given)
    if inspect.isgenerator(made):
        with contextlib.contextmanager(lambda: made)() as store:
            yield store
    elif _is_context_manager(made):
        with made as store:
            yield store
    else:
        try:
            yield made
        finally:
            _close(made)


def _close(store: object) -> None:
    aclose = getattr(store, "aclose", None)
    if inspect.iscoroutinefunction(aclose):
        try:
            loop = asyncio.get_event_loop()  # the kit's runner thread has one; async clients are bound to it
        except RuntimeError:
            asyncio.run(aclose())
        else:
            loop.run_until_complete(aclose())
    close = getattr(store, "close", None)
    if callable(close):
        close()


def _is_context_manager(obj: object) -> bool:
    # A store that happens to be a context manager is still the store itself.
    return hasattr(obj, "__enter__") and hasattr(obj, "__exit__") and not hasattr(obj, "get_messages")
