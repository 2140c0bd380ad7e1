"""Targets (:mod:`pytest_chatstore.targets`): what a factory accepts, how ``MODULE:ATTR`` resolves."""

from __future__ import annotations

from typing import Any

from pytest_chatstore.targets import accepted_parameters, parse_target


def test_only_named_injectable_parameters_are_accepted() -> None:
    def factory(ttl: float | None = None, clock: Any = None, other: int = 0, **kwargs: Any) -> None: ...

    def keyword_only(*, redis_url: str) -> None: ...

    assert accepted_parameters(factory) == {"ttl", "clock"}
    assert accepted_parameters(keyword_only) == {"redis_url"}
    assert accepted_parameters(lambda **kw: None) == frozenset()


def test_dotted_attribute_paths_resolve() -> None:
    target = parse_target("pytest_chatstore.contract:ChatMessage.copy", "test")
    assert target.name == "copy"
