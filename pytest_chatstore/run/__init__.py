"""The run tier: the pytest wiring that :mod:`pytest_chatstore.plugin`'s hooks call.

Settings (:mod:`.settings`), the run's state (:mod:`.stash`), adding the suite
(:mod:`.collection`), building the store under test for a clause (:mod:`.building`), containing
what a store does around each clause (:mod:`.containment`, :mod:`.isolation`) and judging and
recording results (:mod:`.outcome`). Only the entry points import it.
"""
