"""Servers the suite provides to stores under test (Redis), started only when a target needs one."""

from __future__ import annotations

import os
from typing import Any

import pytest

from pytest_chatstore.settings import Settings


class RedisProvider:
    """The session's Redis server, provisioned on first use (never for a run that needs none)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.server: Any = None
        self.error: str | None = None

    def __call__(self) -> Any:
        """The :class:`~pytest_chatstore.servers.redis.RedisServer`; fails the calling test if there is none."""
        if self.server is None and self.error is None:
            from pytest_chatstore.servers.redis import RedisUnavailable, provision

            worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw")
            try:
                self.server = provision(
                    self.settings.redis,
                    self.settings.redis_url,
                    require_real=self.settings.require_real_redis,
                    worker=int(worker) if worker.isdigit() else 0,
                )
            except RedisUnavailable as exc:
                self.error = str(exc)
        if self.error is not None:
            pytest.fail(f"pytest-chatstore: {self.error}", pytrace=False)
        return self.server

    def close(self) -> None:
        if self.server is not None:
            self.server.close()
