"""The engine tier: calling a store and judging its answers, without pytest.

Time-limited calls (:mod:`.runner`), building a store from a target (:mod:`.targets`), the driver
that logs, converts and checks every call (:mod:`.driver`), whose rule each answer falls under
(:mod:`.attribution`), failures and their reports (:mod:`.failures`), the generators
(:mod:`.strategies`), the small scope (:mod:`.scope`), capabilities, the time budget, the
linearizability checker and PRC-001's worker processes. With :mod:`pytest_chatstore.adapters` and
:mod:`pytest_chatstore.servers` (public paths, kept at the top), it imports only the spec tier.
"""
