"""Redis stores that are correct on their own key space and harm data that is not theirs.

The guard (``pytest_chatstore.servers.guard``) must fail the run for each, naming the database and the
change, while the reference store's run leaves every other database as it was
(``tests/test_reference_redis.py``).
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from reference_impls.redis import RedisChatStore


class FlushesAllOnClose(RedisChatStore):
    """Correct, but closing it sends ``FLUSHALL``: every database of the server is wiped (a test helper's
    clean-up left in the production class)."""

    def close(self) -> None:
        self._sync.flushall()
        super().close()


class IgnoresDatabaseIndex(RedisChatStore):
    """Correct, but it always writes to database 0, whatever the URL names (a client built from host and
    port only)."""

    def __init__(self, redis_url: str | None = None, *, ttl: float | None = None) -> None:
        parts = urlsplit(str(redis_url))
        super().__init__(urlunsplit(parts._replace(path="/0")), ttl=ttl)
