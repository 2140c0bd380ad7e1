"""The harness tier: what a suite test is handed.

:class:`~pytest_chatstore.harness.store.StoreUnderTest` (fresh stores, capabilities, Hypothesis
settings, the budget's share of a clause) and the TTL machinery (:mod:`.ttl`: the clock, the
scenarios, the real-time batch). It imports the engine and spec tiers.
"""
