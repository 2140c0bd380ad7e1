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
    """What the kit needs to know to find a Redis server."""

    kind: str = "auto"
    """One of :data:`REDIS_KINDS`."""
    url: str | None = None
    """The user's server (an empty database of it is used)."""
    require_real: bool = False
    """Fail rather than fall back to fakeredis."""


class RedisProvider:
    """The session's Redis server, provisioned on first use (never for a run that needs none)."""

    def __init__(self, config: RedisConfig) -> None:
        self.config = config
        self.server: Any = None
        self.error: str | None = None

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
        if self.error is not None:
            pytest.fail(f"pytest-chatstore: {self.error}", pytrace=False)
        return self.server

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

    def close(self) -> None:
        if self.server is not None:
            self.server.close()
