"""A backend's conftest.py: register the store once; the whole suite runs against it.

Run with plain ``pytest``: the suite appears under ``chatstore/``.
"""

import pytest

from reference_impls.memory import InMemoryChatStore  # your store here


@pytest.fixture
def chatstore_factory() -> type[InMemoryChatStore]:
    """The kit calls this factory for every example (with ``ttl`` and ``clock`` when it takes them)."""
    return InMemoryChatStore


@pytest.fixture
def chatstore_capabilities() -> dict[str, bool]:
    """Optional: declarations that override detection, e.g. ``{"threads": False}``. Here: none."""
    return {}
