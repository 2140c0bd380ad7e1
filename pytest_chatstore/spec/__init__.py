"""The spec tier: what a chat store promises, and nothing about how it is checked.

The store protocols (:mod:`.contract`), the operations (:mod:`.operations`), the clause registry
(:mod:`.clauses`), the statuses a clause can have (:mod:`.statuses`), the Hypothesis budgets the
clauses' work is counted in (:mod:`.profiles`) and the model, the spec in executable form
(:mod:`.model`). It imports nothing else of the kit.
"""
