"""Servers the suite provides to stores under test (Redis), started only when a target needs one."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import pytest

REDIS_KINDS = ("auto", "url", "docker", "binary", "fakeredis")
"""Where a Redis server may come from: ``auto`` tries a given URL, else Docker, a local binary, fakeredis."""


@dataclass(frozen=True)
class RedisConfig:
    """What the kit needs to know to find a Redis server (from the settings, whose rows hold the defaults)."""

    kind: str
    """One of :data:`REDIS_KINDS`."""
    url: str | None
    """The user's server (an empty database of it is used)."""
    require_real: bool
    """Fail rather than fall back to fakeredis."""


class RedisProvider:
    """The session's Redis server, provisioned on first use (never for a run that needs none)."""

    def __init__(self, config: RedisConfig) -> None:
        self.config = config
        self.server: Any = None
        self.error: str | None = None
        self.baseline: Any = None
        """The guard's fingerprint of the server's other databases (see :mod:`.guard`), taken before any store ran."""
        self.seen: list[str] = []
        """Changes the guard saw outside any clause (xdist's controller's first contact), for the report."""

    def __call__(self) -> Any:
        """The :class:`~pytest_chatstore.servers.redis.RedisServer`; fails the calling test if there is none."""
        if self.server is None and self.error is None:
            from pytest_chatstore.servers.redis import RedisUnavailable, provision

            worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw")
            try:
                self.server = provision(
                    self.config.kind,
                    self.config.url,
                    require_real=self.config.require_real,
                    worker=int(worker) if worker.isdigit() else 0,
                )
            except RedisUnavailable as exc:
                self.error = str(exc)
            else:
                from pytest_chatstore.servers.guard import fingerprint

                self.baseline = fingerprint(self.server.client(), self.server.kit_databases)
        if self.error is not None:
            pytest.fail(f"pytest-chatstore: {self.error}", pytrace=False)
        return self.server

    def look_before_workers(self, workers: int) -> None:
        """In xdist's controller, before it builds a store (the first contact): on a user's server, the guard's
        baseline over every database but the ``workers`` the workers write to, so that what a store does to the
        others while the controller builds it is seen at the run's end. A server the kit starts is its own:
        nothing to guard, and nothing is started here."""
        if self.config.url is None or self.config.kind not in ("auto", "url") or self.server is not None:
            return
        try:
            server = self()
        except pytest.fail.Exception:
            return  # said by the first clause that needs the server
        from pytest_chatstore.servers.guard import fingerprint

        first = min(server.kit_databases)
        server.kit_databases = frozenset(range(first, first + max(1, workers)))
        self.baseline = fingerprint(server.client(), server.kit_databases)

    def look(self, when: str) -> None:
        """Compare with the baseline now, outside any clause; a change is kept in :attr:`seen`, said ``when``."""
        changed = self.trespass()
        if changed is not None:
            self.seen.append(f"{when}: {changed}")

    def check_usage(self) -> str | None:
        """Why the user's Redis URL cannot be used (a usage error, said up front), or None."""
        if self.config.url is None or self.config.kind not in ("auto", "url"):
            return None
        from pytest_chatstore.servers.redis import RedisUsageError, check_url

        try:
            check_url(self.config.url)
        except RedisUsageError as exc:
            return str(exc)
        return None

    def trespass(self) -> str | None:
        """What changed in the server's other databases since the last look, in words, or None; what is seen
        becomes the next look's baseline (a change is reported once)."""
        if self.server is None or self.baseline is None:
            return None
        from pytest_chatstore.servers.guard import changes, fingerprint

        client = self.server.client()
        found = changes(self.baseline, fingerprint(client, self.server.kit_databases, like=self.baseline))
        if not found:
            return None
        self.baseline = fingerprint(client, self.server.kit_databases)
        return "; ".join(found)

    def guarded(self) -> str:
        """What the guard watches on this server, in words (for the report's Redis line)."""
        if self.baseline is None:
            return ""
        if self.baseline.unread is not None:
            return f"; other databases not fully guarded: {self.baseline.unread}"
        held = ", ".join(str(db) for db in sorted(self.baseline.counts)) or "none hold keys"
        return f"; the kit's database {_list(self.server.kit_databases)}, the others guarded ({held})"

    def close(self) -> None:
        if self.server is not None:
            self.server.close()


def _list(numbers: frozenset[int]) -> str:
    return ", ".join(str(n) for n in sorted(numbers))
