"""Hypothesis strategies for keys, messages and operations.

Generated values stay JSON-native (no tuples, no non-string dict keys, no
bytes, no lone surrogates, no NaN), so a persistent store is never failed for
a coercion JSON itself would make. Roles are the four every ecosystem knows,
so LlamaIndex's ``MessageRole`` accepts them.
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from pytest_chatstore.spec.contract import ChatMessage

ROLES = ("user", "assistant", "system", "tool")

_PRINTABLE = "".join(map(chr, range(0x20, 0x7F)))
MEGABYTE = (_PRINTABLE * ((1 << 20) // len(_PRINTABLE) + 1))[: 1 << 20]
"""A message content of 2**20 characters: printable ASCII, cycled (the fidelity and scale clauses' huge one)."""

TRICKY_KEYS = (
    "a",
    "A",
    "a:b",
    "a:*",
    "*",
    "?",
    "[ab]",
    "a b",
    " a",
    "a ",
    "a/b",
    "a\\b",
    "ключ",
    "会话",
    "🙂",
    "\t",
    "a" * 300,
)
"""Keys that break naive backends: case, glob characters, separators, whitespace, Unicode, length."""

# No lone surrogates (not encodable as UTF-8) and no NUL: PostgreSQL text and JSONB, and most C-based
# stores, cannot hold U+0000; refusing it is a reasonable design, not a bug (spec 0.3).
_text_chars = st.characters(exclude_categories=["Cs"], exclude_characters="\x00")

texts = st.text(_text_chars, max_size=40)
keys = st.one_of(st.sampled_from(TRICKY_KEYS), st.text(_text_chars, min_size=1, max_size=30))

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**53), max_value=2**53),  # exact in every JSON implementation
    st.floats(allow_nan=False, allow_infinity=False),
    texts,
)
json_values: st.SearchStrategy[Any] = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(texts, inner, max_size=4),
    max_leaves=12,
)
additional_kwargs = st.dictionaries(texts, json_values, max_size=4)

messages = st.builds(
    ChatMessage,
    role=st.sampled_from(ROLES),
    content=texts,
    additional_kwargs=additional_kwargs,
)
"""Any message: Unicode content (empty and whitespace included), nested JSON kwargs."""

simple_messages = st.builds(
    ChatMessage,
    role=st.sampled_from(ROLES),
    content=st.text("abcxyz", max_size=3),
    additional_kwargs=st.just({}),
)
"""Small messages for sequence-heavy tests, where readability of a failure matters most."""

message_lists = st.lists(messages, max_size=6)


def distinct_lists(min_size: int = 0, max_size: int = 5) -> st.SearchStrategy[list[ChatMessage]]:
    """Lists of messages with pairwise different content, so that any reordering shows."""
    return st.lists(simple_messages, min_size=min_size, max_size=max_size, unique_by=lambda m: m.content)


def numbered(message: ChatMessage, n: int) -> ChatMessage:
    """``message`` with ``#n`` appended to its content: unique per step, so order bugs cannot hide."""
    return ChatMessage(message.role, f"{message.content}#{n}", message.additional_kwargs)


def indices(max_abs: int = 8) -> st.SearchStrategy[int]:
    """Indices for insert and delete: negative, in range and out of range.

    The boundaries (0, 1, -1), where most list bugs live, come up most often.
    """
    return st.one_of(st.sampled_from([0, 1, -1]), st.integers(-2, 2), st.integers(-max_abs, max_abs))


def distinct_keys(n: int) -> st.SearchStrategy[list[str]]:
    """``n`` different keys, tricky ones likely."""
    return st.lists(keys, min_size=n, max_size=n, unique=True)
