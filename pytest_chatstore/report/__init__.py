"""The report tier: from clause results to a verdict, and the verdict to the reader.

The policy and judgement (:mod:`.gate`), the pure verdict (:mod:`.verdict`: gate, level reached,
root causes, not verified), its renderers (:mod:`.render`: terminal, JSON, Markdown, badge, keyed
by suffix) and reproduction files (:mod:`.repro`). It imports the tiers below; nothing below
imports it.
"""
