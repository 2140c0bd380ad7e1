"""Input checks shared by the reference stores: refuse bad input before touching any data."""

from __future__ import annotations

import enum
import math
from collections.abc import Iterable
from typing import Any

from pytest_chatstore.spec.contract import ChatMessage


def check_key(key: object) -> None:
    """A key is a non-empty ``str``; anything else is refused (``str(1)`` would merge ``1`` and ``"1"``)."""
    if not isinstance(key, str):
        raise TypeError(f"key must be str, not {type(key).__name__}")
    if not key:
        raise ValueError("key must not be empty")


def check_index(idx: object) -> None:
    """An index is an ``int`` (``bool`` excluded); floats and strings are refused, not truncated."""
    if not isinstance(idx, int) or isinstance(idx, bool):
        raise TypeError(f"idx must be int, not {type(idx).__name__}")


def check_limit(limit: object) -> int:
    """A tail read's ``limit``: an ``int`` (``bool`` excluded) of at least 0; a negative one is refused, since
    "at most -1 messages" has no answer (SQL's ``LIMIT -1`` would read them all)."""
    check_index(limit)
    assert isinstance(limit, int)
    if limit < 0:
        raise ValueError(f"limit must be 0 or more, not {limit}")
    return limit


def copy_message(message: object) -> ChatMessage:
    """Validate ``message`` and return an independent copy as a :class:`ChatMessage`.

    Any object with ``role`` (a ``str`` or a ``str`` enum), ``content`` (``str``)
    and ``additional_kwargs`` (a JSON-native dict) is accepted, so LlamaIndex
    messages work too. Everything else raises ``TypeError``.
    """
    try:
        role, content, kwargs = message.role, message.content, message.additional_kwargs  # type: ignore[attr-defined]
    except AttributeError:
        raise TypeError(f"expected a chat message, not {type(message).__name__}") from None
    if isinstance(role, enum.Enum):
        role = role.value
    if not isinstance(role, str):
        raise TypeError(f"message role must be str, not {type(role).__name__}")
    if not isinstance(content, str):
        raise TypeError(f"message content must be str, not {type(content).__name__}")
    if not isinstance(kwargs, dict):
        raise TypeError(f"additional_kwargs must be a dict, not {type(kwargs).__name__}")
    return ChatMessage(role, content, json_copy(kwargs, "additional_kwargs"))


def copy_messages(messages: Iterable[object]) -> list[ChatMessage]:
    """Validate every message first, so a bad element means nothing is written."""
    if isinstance(messages, (str, bytes, dict)) or not isinstance(messages, Iterable):
        raise TypeError(f"messages must be a list of chat messages, not {type(messages).__name__}")
    return [copy_message(m) for m in messages]


def json_copy(value: Any, where: str) -> Any:
    """A deep copy of a JSON-native value; anything JSON would coerce or reject raises ``TypeError``."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{where}: {value!r} is not valid JSON")
        return value
    if isinstance(value, list):
        return [json_copy(v, f"{where}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if not isinstance(k, str):
                raise TypeError(f"{where}: dict keys must be str, not {type(k).__name__}")
            out[k] = json_copy(v, f"{where}[{k!r}]")
        return out
    raise TypeError(f"{where}: {type(value).__name__} is not JSON-native")
