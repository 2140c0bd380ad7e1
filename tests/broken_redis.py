"""Broken Redis stores, for the clauses only a kit-managed server can check."""

from __future__ import annotations

from reference_impls.redis import RedisChatStore


class UnscopedKeys(RedisChatStore):
    """KEY-005: get_keys scans the whole database (``SCAN *``), listing keys it never wrote."""

    def get_keys(self) -> list[str]:
        return sorted(k.decode().removeprefix(self.prefix) for k in self._sync.scan_iter(match="*"))
