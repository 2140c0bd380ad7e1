"""Redis chat stores side by side, on a real local redis-server (on demand; not part of CI).

    pip install -e '.[redis]' llama-index-storage-chat-store-redis
    python benchmarks/redis_bench.py            # median of 7 rounds per operation

Three contenders doing the same work and decoding into the same message objects:

- ``ours``: ``reference_impls.redis.RedisChatStore``;
- ``raw``: the same Redis commands written by hand with redis-py (the floor);
- ``llama``: ``llama_index.storage.chat_store.redis.RedisChatStore`` (what users have today),
  which returns LlamaIndex messages; its decoding is its own.

Each operation is timed over a batch of calls, and the median of several rounds is reported,
with ratios to the floor and to LlamaIndex measured in the same run.
"""

from __future__ import annotations

import json
import statistics
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

import redis

from pytest_chatstore.servers.redis import provision
from pytest_chatstore.spec.contract import ChatMessage
from reference_impls.redis import RedisChatStore

ROUNDS = 7
M = ChatMessage("user", "hello there, a typical chat message of modest length", {"trace": {"id": 1}})


def _encode(m: ChatMessage) -> str:
    return json.dumps(
        {"role": m.role, "content": m.content, "additional_kwargs": m.additional_kwargs}, separators=(",", ":")
    )


def _decode(raw: bytes) -> ChatMessage:
    d = json.loads(raw)
    return ChatMessage(d["role"], d["content"], d["additional_kwargs"])


class Raw:
    """The floor: the commands our store sends, by hand."""

    def __init__(self, url: str, ttl: float | None = None) -> None:
        self.r = redis.Redis.from_url(url)
        self.ttl_ms = None if ttl is None else int(ttl * 1000)

    def add_message(self, key: str, m: ChatMessage) -> None:
        if self.ttl_ms:
            p = self.r.pipeline(transaction=True)
            p.rpush("chatstore:" + key, _encode(m))
            p.pexpire("chatstore:" + key, self.ttl_ms)
            p.execute()
        else:
            self.r.rpush("chatstore:" + key, _encode(m))

    def get_messages(self, key: str) -> list[ChatMessage]:
        return [_decode(x) for x in self.r.lrange("chatstore:" + key, 0, -1)]


def timed(fn: Callable[[], Any], calls: int, setup: Callable[[], Any] | None = None) -> float:
    """Median over ROUNDS of the mean time per call, in microseconds."""
    results = []
    for _ in range(ROUNDS):
        if setup:
            setup()
        start = time.perf_counter()
        for _ in range(calls):
            fn()
        results.append((time.perf_counter() - start) / calls * 1e6)
    return statistics.median(results)


def main() -> None:
    server = provision("binary", require_real=True)
    db = server.client()
    try:
        from llama_index.core.llms import ChatMessage as LlamaMessage
        from llama_index.storage.chat_store.redis import RedisChatStore as LlamaRedis
    except ImportError:
        sys.exit("pip install llama-index-storage-chat-store-redis")
    lm = LlamaMessage(role=M.role, content=M.content, additional_kwargs=M.additional_kwargs)
    ours, ours_ttl = RedisChatStore(server.url), RedisChatStore(server.url, ttl=3600)
    raw, raw_ttl = Raw(server.url), Raw(server.url, ttl=3600)
    llama, llama_ttl = LlamaRedis(redis_url=server.url), LlamaRedis(redis_url=server.url, ttl=3600)
    thousand = [M] * 1000

    llama_thousand = [lm] * 1000

    def fill(key: str) -> Callable[[], None]:
        """A 1,000-message conversation at ``key``, written by each store in its own format."""
        return lambda: (db.flushdb(), ours.set_messages(key, thousand), llama.set_messages(key, llama_thousand))

    rows: list[tuple[str, float, float | None, float | None]] = []
    flush = db.flushdb
    rows.append(
        (
            "append",
            timed(lambda: ours.add_message("a", M), 2000, flush),
            timed(lambda: raw.add_message("a", M), 2000, flush),
            timed(lambda: llama.add_message("a", lm), 2000, flush),
        )
    )
    rows.append(
        (
            "append with TTL",
            timed(lambda: ours_ttl.add_message("a", M), 2000, flush),
            timed(lambda: raw_ttl.add_message("a", M), 2000, flush),
            timed(lambda: llama_ttl.add_message("a", lm), 2000, flush),
        )
    )
    fill("big")()
    assert len(ours.get_messages("big")) == len(raw.get_messages("big")) == len(llama.get_messages("big")) == 1000
    rows.append(
        (
            "get 1,000 messages",
            timed(lambda: ours.get_messages("big"), 50),
            timed(lambda: raw.get_messages("big"), 50),
            timed(lambda: llama.get_messages("big"), 50),
        )
    )
    rows.append(
        (
            "insert at 500 of 1,000",
            timed(lambda: ours.add_message("big", M, 500), 20, fill("big")),
            None,
            timed(lambda: llama.add_message("big", lm, idx=500), 20, fill("big")),
        )
    )
    rows.append(
        (
            "delete at 500 of 1,000",
            timed(lambda: ours.delete_message("big", 500), 20, fill("big")),
            None,
            timed(lambda: llama.delete_message("big", 500), 20, fill("big")),
        )
    )
    rows.append(
        (
            "delete last",
            timed(lambda: ours.delete_last_message("big"), 200, fill("big")),
            None,
            timed(lambda: llama.delete_last_message("big"), 200, fill("big")),
        )
    )

    def many_keys() -> None:
        db.flushdb()
        p = db.pipeline(transaction=False)
        for i in range(9900):
            p.set(f"other:{i}", "x")
        for i in range(100):
            p.rpush(f"chatstore:conv{i}", _encode(M))
        p.execute()
        for i in range(100):
            llama.add_message(f"llama-conv{i}", lm)  # LlamaIndex keeps keys as given, unprefixed

    many_keys()
    rows.append(("get_keys, 100 ours of 10,000", timed(ours.get_keys, 10), None, timed(llama.get_keys, 10)))

    def concurrent(store_add: Callable[[int], None]) -> float:
        threads = [threading.Thread(target=store_add, args=(t,)) for t in range(8)]
        start = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return (time.perf_counter() - start) / (8 * 500) * 1e6

    def ours_clients(t: int) -> None:
        s = RedisChatStore(server.url)
        for _ in range(500):
            s.add_message("shared", M)

    def llama_clients(t: int) -> None:
        s = LlamaRedis(redis_url=server.url)
        for _ in range(500):
            s.add_message("shared", lm)

    db.flushdb()
    c_ours = statistics.median(concurrent(ours_clients) for _ in range(3))
    lost_ours = 8 * 500 * 3 - db.llen("chatstore:shared")
    db.flushdb()
    c_llama = statistics.median(concurrent(llama_clients) for _ in range(3))
    rows.append(("8 clients appending (per call)", c_ours, None, c_llama))

    print(f"redis-server: {server.description}; median of {ROUNDS} rounds, microseconds per call\n")
    print("| operation | ours | raw redis-py (floor) | LlamaIndex | ours / floor | LlamaIndex / ours |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for name, o, r, li in rows:
        ratio = f"{o / r:.2f}x" if r else "n/a"
        speedup = f"{li / o:.1f}x" if li else "n/a"
        floor = "" if r is None else f"{r:,.0f}"
        theirs = "" if li is None else f"{li:,.0f}"
        print(f"| {name} | {o:,.0f} | {floor} | {theirs} | {ratio} | {speedup} |")
    print(f"\nmessages lost by our store under 8 concurrent clients: {lost_ours}")
    server.close()


if __name__ == "__main__":
    main()
