"""The processes the kit itself starts for the suite (a ``redis-server``), so that containment never ends them."""

from __future__ import annotations

KIT_PROCESSES: set[int] = set()
"""Process IDs of the servers the kit started in this process (restarted ones too): never a store's helper."""
