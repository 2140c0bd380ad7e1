"""LangChain chat histories (``BaseChatMessageHistory``) under the kit: thin and optional.

A LangChain history holds *one* conversation. :class:`HistoryStore` turns a
history class into a store of many: the conversation key becomes the
``session_id`` (or, for a history with no session parameter, such as
``InMemoryChatMessageHistory``, each key gets its own instance). It offers what
histories can do: read (``messages`` / ``aget_messages``), append
(``add_messages`` / ``aadd_messages``, single messages and batches) and delete
all (``clear`` / ``aclear``). Insert and delete by index, delete-last and key
listing are absent, so their clauses are skipped, naming the capability.

Messages: the kit's generic messages map to ``HumanMessage`` (user),
``AIMessage`` (assistant), ``SystemMessage`` (system) and ``ChatMessage`` (any
other role). LangChain-specific messages (tool calls, ids, metadata, artifacts,
multimodal content) travel as ``ChatMessage("lc:<type>", text, {"lc": data})``,
where ``data`` is what ``message_to_dict`` serializes: fidelity is compared on
LangChain's own serialization, so any field a backend drops shows.

``BaseChatMessageHistory`` is deprecated upstream (langchain-core 1.6.4); this
module imports langchain-core only when a history is under test
(``pip install 'pytest-chatstore[langchain]'``).
"""

from __future__ import annotations

import copy
import inspect
import warnings
from collections.abc import Callable, Sequence
from typing import Any

from hypothesis import strategies as st
from langchain_core.messages import (
    AIMessage,
    BaseMessage,
    FunctionMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
    message_to_dict,
    messages_from_dict,
)
from langchain_core.messages import ChatMessage as LangChainChatMessage

from pytest_chatstore.adapters.base import NotAMessage, PerKeyStore
from pytest_chatstore.engine import strategies as cst
from pytest_chatstore.engine.runner import progress
from pytest_chatstore.spec.contract import ChatMessage

SESSION_PARAMETERS = ("session_id",)
URL_PARAMETERS = ("redis_url", "url")
"""A history's parameter that takes the kit's Redis URL (``url`` is langchain-community's name)."""

_GENERIC: dict[str, Callable[..., BaseMessage]] = {
    "user": HumanMessage,
    "assistant": AIMessage,
    "system": SystemMessage,
}


class LangChainAdapter:
    """Converts between the kit's messages and LangChain's ``BaseMessage``."""

    name = "langchain"

    def to_store(self, message: ChatMessage) -> BaseMessage:
        if message.role.startswith("lc:"):
            data = copy.deepcopy(message.additional_kwargs["lc"])
            made: BaseMessage = messages_from_dict([{"type": message.role[3:], "data": data}])[0]
            return made
        kwargs = copy.deepcopy(message.additional_kwargs)
        if message.role in _GENERIC:
            return _GENERIC[message.role](content=message.content, additional_kwargs=kwargs)
        return LangChainChatMessage(content=message.content, role=message.role, additional_kwargs=kwargs)

    def from_store(self, obj: object) -> ChatMessage:
        if not isinstance(obj, BaseMessage):
            raise NotAMessage(f"expected a LangChain message, got {type(obj).__name__}: {obj!r:.120}")
        serialized = message_to_dict(obj)
        data = serialized["data"]
        content = data.get("content")
        role = {"human": "user", "ai": "assistant", "system": "system"}.get(serialized["type"], data.get("role"))
        if isinstance(content, str) and isinstance(role, str) and not role.startswith("lc:"):
            generic = ChatMessage(role, content, copy.deepcopy(data.get("additional_kwargs", {})))
            if message_to_dict(self.to_store(generic)) == serialized:
                return generic
        return ChatMessage(f"lc:{serialized['type']}", content if isinstance(content, str) else "", {"lc": data})


def _kit(message: BaseMessage) -> ChatMessage:
    return LangChainAdapter().from_store(message)


_ids = st.none() | st.text("abcdef0123456789-", min_size=1, max_size=12)
_names = st.none() | st.text("abcxyz_", min_size=1, max_size=8)
_metadata = st.dictionaries(cst.texts, cst.json_values, max_size=3)
_content = cst.texts | st.lists(
    st.one_of(
        st.fixed_dictionaries({"type": st.just("text"), "text": cst.texts}),
        st.fixed_dictionaries(
            {"type": st.just("image_url"), "image_url": st.fixed_dictionaries({"url": st.just("https://x.test/a.png")})}
        ),
    ),
    min_size=1,
    max_size=3,
)
_tool_calls = st.lists(
    st.fixed_dictionaries(
        {
            "name": st.text("abcxyz_", min_size=1, max_size=8),
            "args": st.dictionaries(st.text("abc", min_size=1, max_size=3), cst.json_scalars, max_size=3),
            "id": st.text("abc0123", min_size=1, max_size=6),
        }
    ),
    max_size=2,
)
_usage = st.none() | st.builds(
    lambda i, o: {"input_tokens": i, "output_tokens": o, "total_tokens": i + o},
    st.integers(0, 10_000),
    st.integers(0, 10_000),
)

langchain_messages: st.SearchStrategy[ChatMessage] = st.one_of(
    st.builds(HumanMessage, content=_content, id=_ids, name=_names),
    st.builds(
        AIMessage,
        content=_content,
        tool_calls=_tool_calls,
        id=_ids,
        name=_names,
        response_metadata=_metadata,
        usage_metadata=_usage,
    ),
    st.builds(SystemMessage, content=_content, id=_ids),
    st.builds(
        ToolMessage,
        content=_content,
        tool_call_id=st.text("abc0123", min_size=1, max_size=6),
        artifact=cst.json_values,
        status=st.sampled_from(["success", "error"]),
    ),
    st.builds(LangChainChatMessage, content=_content, role=st.sampled_from(["critic", "moderator", "Tool"])),
    st.builds(FunctionMessage, content=cst.texts, name=st.text("abcxyz_", min_size=1, max_size=8)),
).map(_kit)
"""LangChain's message types with their own fields, as the kit's messages (see the module docstring)."""


LangChainAdapter.messages = langchain_messages  # type: ignore[attr-defined]  # FID-001 draws from it


class HistoryStore(PerKeyStore):
    """Many conversations on top of a one-conversation LangChain history class (one history per key)."""

    def history(self, key: str) -> Any:
        """The history of conversation ``key`` (made on first use, then reused)."""
        return self.one(key)

    def get_messages(self, key: str) -> list[BaseMessage]:
        return list(self.history(key).messages)

    def add_message(self, key: str, message: BaseMessage) -> None:
        self.history(key).add_messages([message])

    def add_messages(self, key: str, messages: Sequence[BaseMessage]) -> None:
        """Append a batch, as one ``add_messages`` call (BAT-001 checks it stays contiguous)."""
        _append(self.history(key), list(messages))

    def set_messages(self, key: str, messages: Sequence[BaseMessage]) -> None:
        """Clear, then append: histories have no replace. Checked first, so a bad list clears nothing."""
        batch = _messages_only(messages)
        history = self.history(key)
        history.clear()
        if batch:
            _append(history, batch)

    def delete_messages(self, key: str) -> None:
        self.history(key).clear()

    async def aget_messages(self, key: str) -> list[BaseMessage]:
        return list(await self.history(key).aget_messages())

    async def async_add_message(self, key: str, message: BaseMessage) -> None:
        await self.history(key).aadd_messages([message])

    async def aset_messages(self, key: str, messages: Sequence[BaseMessage]) -> None:
        batch = _messages_only(messages)
        history = self.history(key)
        await history.aclear()
        if batch:
            await history.aadd_messages(batch)

    async def aadd_messages(self, key: str, messages: Sequence[BaseMessage]) -> None:
        await self.history(key).aadd_messages(list(messages))

    async def adelete_messages(self, key: str) -> None:
        await self.history(key).aclear()


def _append(history: Any, batch: list[BaseMessage]) -> None:
    """``history.add_messages(batch)``. A history with no bulk append of its own inherits LangChain's, a loop
    of ``add_message``: the same loop runs here, saying after each append that one underlying call
    finished, so that the per-operation limit applies to each append (a slow history is not a hung one)."""
    from langchain_core.chat_history import BaseChatMessageHistory

    if type(history).add_messages is not BaseChatMessageHistory.add_messages:
        history.add_messages(batch)
        return
    for message in batch:
        history.add_message(message)
        progress()


def _messages_only(messages: Sequence[Any]) -> list[BaseMessage]:
    """The kit's own check before its clear-then-append: a bad element must not cost the conversation."""
    batch = list(messages)
    for message in batch:
        if not isinstance(message, BaseMessage):
            raise TypeError(f"not a LangChain message: {type(message).__name__}")
    return batch


def history_factory(history: Callable[..., Any], /, **kwargs: Any) -> Callable[..., HistoryStore]:
    """The kit's factory of stores for a LangChain history: name it as the ``--chatstore`` target.

    ``history`` is a ``BaseChatMessageHistory`` class, or any callable that builds one history. For each
    conversation key the store calls it once, passing:

    - the key as ``session_id`` when ``history`` takes that parameter, else as the only argument when it
      takes exactly one required positional parameter (``lambda key: ...``), whatever its type: the
      history's own check of a key is what BAD-001 sees. A history that takes neither
      (``InMemoryChatMessageHistory``) gets one instance per key; no key reaches it, so BAD-001 is
      skipped, saying so;
    - the kit's ``ttl``, when ``history`` takes ``ttl`` (map another name in a function of your own);
    - the kit's Redis URL as ``redis_url`` or ``url``, when ``history`` takes one;
    - ``kwargs`` as given here: a connection string, a table name.

    The factory returned takes, keyword-only, just those of ``ttl`` and ``redis_url`` that ``history``
    takes, so the kit detects the capabilities the history has. Example::

        make_histories = history_factory(SQLChatMessageHistory, connection="sqlite:///chat.db")
        # pytest --chatstore=mytests.stores:make_histories --chatstore-only

    A history class given directly as the target gets ``history_factory(cls)``.
    """
    try:
        params = inspect.signature(history).parameters
    except (TypeError, ValueError):
        params = {}  # type: ignore[assignment]
    session = next((p for p in SESSION_PARAMETERS if p in params and p not in kwargs), None)
    positional = [
        p
        for p in params.values()
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.default is p.empty and p.name not in kwargs
    ]
    by_position = session is None and len(positional) == 1
    url_name = next((p for p in URL_PARAMETERS if p in params and p not in kwargs), None)
    takes_ttl = "ttl" in params and "ttl" not in kwargs

    def build(**given: Any) -> HistoryStore:
        def make(key: str) -> Any:
            arguments: dict[str, Any] = dict(kwargs)
            if session is not None:
                arguments[session] = key  # the history's own check of its key is what BAD-001 sees
            elif not by_position and not isinstance(key, str):  # no key reaches the history: BAD-001 is skipped
                raise TypeError(f"key must be a str, not {type(key).__name__}")
            if url_name is not None and "redis_url" in given:
                arguments[url_name] = given["redis_url"]
            if takes_ttl and given.get("ttl") is not None:
                arguments["ttl"] = given["ttl"]
            with warnings.catch_warnings():  # the upstream deprecation is not the store's failure
                warnings.filterwarnings("ignore", r"The class .* was deprecated in LangChain", DeprecationWarning)
                return history(key, **arguments) if by_position else history(**arguments)

        store = HistoryStore(make, history if isinstance(history, type) else None)
        store.keys_reach_backend = session is not None or by_position
        return store

    accepted = [n for n, present in (("ttl", takes_ttl), ("redis_url", url_name is not None)) if present]
    build.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [inspect.Parameter(n, inspect.Parameter.KEYWORD_ONLY, default=None) for n in accepted]
    )
    build.__qualname__ = getattr(history, "__qualname__", type(history).__qualname__)
    return build
