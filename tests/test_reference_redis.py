"""RedisChatStore and the kit's Redis provisioning: conformance, isolation, errors, lifecycle.

CI runs these against a real ``redis-server`` (``CI`` set: no fakeredis fallback);
elsewhere a machine without one falls back to fakeredis and the summary says so.
"""

from __future__ import annotations

import gc
import http.server
import importlib.util
import json
import multiprocessing
import os
import socketserver
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NoReturn

import pytest

from pytest_chatstore.servers.redis import RedisServer, RedisUnavailable, provision
from pytest_chatstore.spec.clauses import CLAUSES
from pytest_chatstore.spec.contract import ChatMessage
from tests.conftest import REAL_REDIS_REQUIRED, REQUIRE_DOCKER, require_module

pytest.importorskip("redis", reason="the redis extra is not installed")
from reference_impls.redis import ChatStoreConnectionError, CorruptMessageError, RedisChatStore

TARGET = "--chatstore=reference_impls.redis:RedisChatStore"
REAL_REQUIRED = REAL_REDIS_REQUIRED
NOT_REAL_TIME = ["-k", "not TTL"]  # the real-time TTL batch is checked once, in the full run


@pytest.fixture(scope="module")
def server(redis_server: RedisServer) -> RedisServer:
    return redis_server


def test_conforms_on_the_best_server_available(pytester: pytest.Pytester) -> None:
    args = [TARGET, "--chatstore-only", "--chatstore-hypothesis=ci"]
    if REAL_REQUIRED:
        args.append("--chatstore-require-real-redis")
    result = pytester.runpytest(*args)
    result.assert_outcomes(passed=len(CLAUSES) - 1, skipped=1)  # TTL-008 needs a clock Redis does not take
    result.stdout.fnmatch_lines(["Redis: *", "RedisChatStore (--chatstore): CONFORMS*"])
    if REAL_REQUIRED:
        assert "[FAKE]" not in result.stdout.str()


def test_conforms_on_fakeredis_and_says_so(pytester: pytest.Pytester) -> None:
    require_module("fakeredis", "fakeredis is not installed")
    result = pytester.runpytest(TARGET, "--chatstore-only", "--chatstore-hypothesis=ci", "--chatstore-redis=fakeredis")
    result.assert_outcomes(passed=len(CLAUSES) - 1, skipped=1)
    result.stdout.fnmatch_lines(["Redis: fakeredis over TCP on 127.0.0.1:* (no real server) [[]FAKE[]]*"])


def test_require_real_redis_refuses_the_fallback(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest(
        TARGET, "--chatstore-only", "--chatstore-redis=fakeredis", "--chatstore-require-real-redis", "-k", "ORD_002"
    )
    assert result.ret == pytest.ExitCode.USAGE_ERROR  # a setup problem, before any check
    result.stdout.fnmatch_lines(["*no Redis server: fakeredis (refused: a real server is required)*"])


def test_a_users_data_survives_a_full_run_on_their_url(
    pytester: pytest.Pytester, server: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)  # in-process: the database index is exact
    base = server.url.rsplit("/", 1)[0]
    import redis

    precious = redis.Redis.from_url(f"{base}/0")
    precious.set("precious", "do not touch")
    precious.rpush("chatstore:someone-elses", "also theirs")
    try:
        result = pytester.runpytest(
            TARGET, "--chatstore-only", f"--chatstore-redis-url={base}", "--chatstore-hypothesis=ci", *NOT_REAL_TIME
        )
        result.assert_outcomes(passed=len(CLAUSES) - 8, deselected=8)
        result.stdout.fnmatch_lines([f"Redis: the server at {base}/15 (given by the user)*"])
        assert precious.get("precious") == b"do not touch"
        assert precious.lrange("chatstore:someone-elses", 0, -1) == [b"also theirs"]
        assert redis.Redis.from_url(f"{base}/15").dbsize() == 0, "the kit left keys behind"
    finally:
        precious.delete("precious", "chatstore:someone-elses")
        precious.close()


@pytest.fixture
def someone_elses(server: RedisServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[int, Any]]:
    """Data that is not the kit's in databases 0 and 3 of the server: three keys, removed again afterwards."""
    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)  # the database index is exact, in-process or not
    monkeypatch.delenv("PYTEST_XDIST_WORKER_COUNT", raising=False)
    import redis

    base = server.url.rsplit("/", 1)[0]
    clients = {db: redis.Redis.from_url(f"{base}/{db}") for db in (0, 3)}
    clients[0].set("precious", "do not touch")
    clients[0].rpush("app:queue", "also theirs")
    clients[3].hset("session:42", "user", "ada")
    yield clients
    for client in clients.values():
        client.delete("precious", "app:queue", "session:42")
        client.close()


def _unchanged(clients: dict[int, Any]) -> bool:
    return bool(
        clients[0].get("precious") == b"do not touch"
        and clients[0].lrange("app:queue", 0, -1) == [b"also theirs"]
        and clients[3].hgetall("session:42") == {b"user": b"ada"}
        and clients[0].dbsize() == 2
        and clients[3].dbsize() == 1
    )


@pytest.mark.parametrize(
    ("how", "when"),
    [
        ([], "after ORD-002"),
        (["--chatstore-isolate"], "after ORD-002"),
        # xdist's controller builds a store (first contact) before any worker looks at the server: it looks first.
        (["-n", "2"], "when xdist's controller built a FlushesAllOnClose store before the workers started"),
    ],
    ids=["in-process", "isolated", "xdist"],
)
def test_a_store_that_flushes_the_server_fails_the_run_naming_each_database(
    pytester: pytest.Pytester, server: RedisServer, someone_elses: dict[int, Any], how: list[str], when: str
) -> None:
    if "-n" in how:
        require_module("xdist", "pytest-xdist is not installed")
    base = server.url.rsplit("/", 1)[0]
    # The first store is built before the first clause (first contact): the guard's look comes before it.
    result = pytester.runpytest_subprocess(
        "--chatstore=tests.hostile_redis:FlushesAllOnClose", "--chatstore-only", f"--chatstore-redis-url={base}/14",
        "--chatstore-clauses=ORD-002", "--chatstore-report=r.json", *how,
    )  # fmt: skip
    assert result.ret == pytest.ExitCode.TESTS_FAILED  # the clause passed; the gate did not
    said = f"{when}: database 0 was emptied (2 keys removed); database 3 was emptied (1 key removed)"
    result.stdout.fnmatch_lines(
        [
            f"GUARD: the store changed data outside the kit's database, {said}",
            "FlushesAllOnClose (--chatstore): DOES NOT CONFORM *(data outside the kit's database changed*",
        ]
    )
    report = json.loads((pytester.path / "r.json").read_text())
    assert report["gate"] == "fail"
    assert report["guard"] == [said]


def test_a_store_that_writes_outside_its_database_fails_the_run(
    pytester: pytest.Pytester, server: RedisServer, someone_elses: dict[int, Any]
) -> None:
    base = server.url.rsplit("/", 1)[0]
    result = pytester.runpytest(
        "--chatstore=tests.hostile_redis:IgnoresDatabaseIndex", "--chatstore-only",
        f"--chatstore-redis-url={base}/15", "--chatstore-clauses=DEL-001", "--chatstore-hypothesis=ci",
    )  # fmt: skip
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(
        ["GUARD: the store changed data outside the kit's database, after DEL-001: database 0: * added*"]
    )
    for key in someone_elses[0].scan_iter(match="chatstore:*"):  # what the store wrote there, the test removes
        if key != b"app:queue":
            someone_elses[0].delete(key)
    assert _unchanged(someone_elses)


def test_a_correct_isolated_run_leaves_every_other_database_as_it_was_and_its_own_empty(
    pytester: pytest.Pytester, server: RedisServer, someone_elses: dict[int, Any]
) -> None:
    require_module("redis", "the redis extra is not installed")
    base = server.url.rsplit("/", 1)[0]
    result = pytester.runpytest_subprocess(
        TARGET, "--chatstore-only", f"--chatstore-redis-url={base}/15", "--chatstore-isolate",
        "--chatstore-clauses=ORD-001,ORD-002,DEL-001,KEY-001,SHR-001", "--chatstore-hypothesis=ci",
    )  # fmt: skip
    result.assert_outcomes(passed=5, deselected=len(CLAUSES) - 5)
    assert "GUARD" not in result.stdout.str()
    result.stdout.fnmatch_lines(["Redis: *; the kit's database 15, the others guarded (0, 3)"])
    assert _unchanged(someone_elses)
    assert someone_elses[0].__class__.from_url(f"{base}/15").dbsize() == 0  # each child's keys were removed


def test_a_non_empty_database_on_a_users_server_is_refused(
    pytester: pytest.Pytester, server: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)  # in-process: the database index is exact
    base = server.url.rsplit("/", 1)[0]
    import redis

    theirs = redis.Redis.from_url(f"{base}/14")
    theirs.set("theirs", "1")
    try:
        result = pytester.runpytest(TARGET, "--chatstore-only", f"--chatstore-redis-url={base}/14", "-k", "ORD_002")
        assert result.ret == pytest.ExitCode.USAGE_ERROR  # said up front, not as clauses that were never checked
        result.stderr.fnmatch_lines(["*database 14 of * holds 1 key; the kit needs an empty database*"])
        result.stderr.fnmatch_lines(["*Database * of that server is empty: name it in the URL (…/*)*"])
        assert "…/15" in result.stderr.str() or "…/13" in result.stderr.str()  # an index a default server has
        assert theirs.get("theirs") == b"1"
    finally:
        theirs.delete("theirs")
        theirs.close()


def test_an_undecodable_item_is_an_error_naming_key_and_position(server: RedisServer) -> None:
    server.reset()
    store = RedisChatStore(server.url)
    store.add_message("chat", ChatMessage("user", "fine"))
    server.client().rpush("chatstore:chat", b"\xff not json")
    with pytest.raises(CorruptMessageError, match=r"conversation 'chat', position 1: stored item is not a message"):
        store.get_messages("chat")
    assert server.client().llen("chatstore:chat") == 2  # nothing dropped
    store.close()


def test_clients_that_decode_responses_work_as_the_stores_own(server: RedisServer) -> None:
    """A store given ready clients built with ``decode_responses=True`` (they answer ``str``, not ``bytes``)
    answers every method as one built from ``redis_url`` does; the prefix is not ASCII, so cutting it by
    bytes from a ``str`` would show."""
    import asyncio

    import redis
    import redis.asyncio as aioredis

    server.reset()
    own = RedisChatStore(server.url, prefix="own-é:")
    decoding = RedisChatStore(
        prefix="dec-é:",
        client=redis.Redis.from_url(server.url, decode_responses=True),
        async_client=aioredis.Redis.from_url(server.url, decode_responses=True),
    )
    a, b, c = (ChatMessage("user", t) for t in "abc")

    def both(store: RedisChatStore) -> list[Any]:
        store.set_messages("chat é", [a, b])
        store.add_message("chat é", c, idx=1)
        store.add_message("other", a)
        answers: list[Any] = [store.get_messages("chat é"), store.get_last_messages("chat é", 2), store.get_keys()]
        answers += [store.delete_message("chat é", 0), store.delete_last_message("chat é"), store.get_keys()]
        answers += [store.delete_messages("other"), store.get_keys()]

        async def twins() -> list[Any]:
            await store.aset_messages("async", [a, b])
            await store.async_add_message("async", c, idx=0)
            got = [await store.aget_messages("async"), await store.aget_keys()]
            got += [await store.adelete_message("async", 1), await store.adelete_last_message("async")]
            got += [await store.adelete_messages("async"), await store.aget_keys()]
            await store.aclose()
            return got

        return answers + asyncio.run(twins())

    expected = both(own)
    assert expected[2] == ["chat é", "other"]
    assert both(decoding) == expected
    own.close()
    decoding.close()


def test_the_async_client_is_built_without_a_warning() -> None:
    """redis-py 8.2 warns when an asyncio client is given the sync ``Retry`` (and drops its custom retry logic):
    the store builds its async client with the asyncio kind."""
    import warnings

    store = RedisChatStore("redis://127.0.0.1:1/0")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        store._aclient()


def test_a_lost_server_is_a_clear_error() -> None:
    store = RedisChatStore("redis://127.0.0.1:1/0")
    with pytest.raises(ChatStoreConnectionError, match="Redis is unreachable"):
        store.add_message("chat", ChatMessage("user", "hi"))


def test_ttl_is_applied_in_milliseconds(server: RedisServer) -> None:
    server.reset()
    store = RedisChatStore(server.url, ttl=2.5)
    store.add_message("chat", ChatMessage("user", "hi"))
    assert 2000 < server.client().pttl("chatstore:chat") <= 2500
    store.set_messages("forever", [ChatMessage("user", "hi")])
    persistent = RedisChatStore(server.url)
    persistent.add_message("kept", ChatMessage("user", "hi"))
    assert server.client().pttl("chatstore:kept") == -1
    store.close()
    persistent.close()


def test_glob_characters_in_the_prefix_are_escaped(server: RedisServer) -> None:
    server.reset()
    mine = RedisChatStore(server.url, prefix="chat[1]*:")
    other = RedisChatStore(server.url, prefix="chat1x:")
    mine.add_message("a", ChatMessage("user", "hi"))
    other.add_message("b", ChatMessage("user", "hi"))
    assert mine.get_keys() == ["a"]
    mine.close()
    other.close()


def test_a_started_server_is_stopped() -> None:
    try:
        started = provision("binary")
    except RedisUnavailable:
        if REAL_REQUIRED:
            raise
        pytest.skip("no redis-server on this machine")
    port = started.url.rsplit(":", 1)[1].split("/")[0]
    started.close()
    assert f"127.0.0.1:{port}" not in subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout


def _append_from_a_process(url: str, writer: int, count: int) -> None:
    store = RedisChatStore(url)
    for j in range(count):
        store.add_message("shared", ChatMessage("user", f"w{writer}-{j}"))
    store.close()


def _pop_from_a_process(url: str, calls: int, results: Any) -> None:
    store = RedisChatStore(url)
    got = [store.delete_last_message("shared") for _ in range(calls)]
    results.put([m.content for m in got if m is not None])
    store.close()


def test_several_client_processes_lose_and_duplicate_nothing(server: RedisServer) -> None:
    """CON-001 and CON-002 across processes, not only threads: separate connections, real parallelism."""
    server.reset()
    spawn = multiprocessing.get_context("spawn")
    writers = [spawn.Process(target=_append_from_a_process, args=(server.url, w, 200)) for w in range(4)]
    for p in writers:
        p.start()
    for p in writers:
        p.join(120)
        assert p.exitcode == 0
    contents = [m.content for m in RedisChatStore(server.url).get_messages("shared")]
    assert len(contents) == 800
    for w in range(4):
        assert [c for c in contents if c.startswith(f"w{w}-")] == [f"w{w}-{j}" for j in range(200)]

    results = spawn.Queue()
    poppers = [spawn.Process(target=_pop_from_a_process, args=(server.url, 250, results)) for _ in range(4)]
    for p in poppers:
        p.start()
    popped = [c for _ in poppers for c in results.get(timeout=120)]
    for p in poppers:
        p.join(120)
    assert sorted(popped) == sorted(contents), "a message was returned twice or lost"
    assert server.client().exists("chatstore:shared") == 0


def test_the_suite_runs_under_xdist(pytester: pytest.Pytester) -> None:
    """Each worker gets its own server (or database): no cross-talk."""
    require_module("xdist", "pytest-xdist is not installed")
    args = [TARGET, "--chatstore-only", "--chatstore-hypothesis=ci", "-n", "2", "-p", "xdist"]
    if REAL_REQUIRED:
        args.append("--chatstore-require-real-redis")
    result = pytester.runpytest_subprocess(*args)
    result.assert_outcomes(passed=len(CLAUSES) - 1, skipped=1)


@pytest.fixture
def cluster(tmp_path: Any) -> Iterator[list[int]]:
    """A throwaway 3-primary Redis Cluster on loopback, started from the local binaries."""
    import shutil
    import socket
    import time

    if not (shutil.which("redis-server") and shutil.which("redis-cli")):
        if REAL_REQUIRED:
            pytest.fail("redis-server and redis-cli are required in CI")
        pytest.skip("no redis-server / redis-cli on this machine")

    def free(port: int) -> bool:
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                return False
            return True

    # Each node also listens on its port + 10000 (the cluster bus), so an ephemeral port from the
    # OS (often above 55535) does not do: pick ports whose bus port is free too.
    ports: list[int] = []
    for port in range(20000 + os.getpid() % 5000, 30000):
        if free(port) and free(port + 10000):
            ports.append(port)
        if len(ports) == 3:
            break
    procs = []
    for port in ports:
        node = tmp_path / str(port)
        node.mkdir()
        args = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--cluster-enabled", "yes"]
        args += ["--cluster-config-file", "nodes.conf", "--save", "", "--appendonly", "no", "--dir", str(node)]
        procs.append(subprocess.Popen(args, stdout=subprocess.DEVNULL))
    try:
        nodes = [f"127.0.0.1:{p}" for p in ports]
        for _ in range(100):
            if all(
                subprocess.run(["redis-cli", "-p", str(p), "ping"], capture_output=True).returncode == 0 for p in ports
            ):
                break
            time.sleep(0.05)  # waiting for servers to start, not a test wait
        create = ["redis-cli", "--cluster", "create", *nodes, "--cluster-replicas", "0", "--cluster-yes"]
        created = subprocess.run(create, capture_output=True, text=True)
        assert created.returncode == 0, (
            f"redis-cli --cluster create failed: {created.stdout[-500:]} {created.stderr[-500:]}"
        )
        for _ in range(100):
            info = subprocess.run(["redis-cli", "-p", str(ports[0]), "cluster", "info"], capture_output=True, text=True)
            if "cluster_state:ok" in info.stdout:
                break
            time.sleep(0.05)
        yield ports
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(10)


def test_works_unchanged_on_redis_cluster(cluster: list[int]) -> None:
    import asyncio

    from redis.asyncio.cluster import RedisCluster as AsyncRedisCluster
    from redis.cluster import RedisCluster

    client = RedisCluster(host="127.0.0.1", port=cluster[0])
    store = RedisChatStore(client=client, ttl=60)
    a, b, c, x = (ChatMessage("user", t) for t in "abcx")
    names = [f"conversation {i}" for i in range(20)]  # spread over the three primaries' slots
    for name in names:
        store.set_messages(name, [a, b])
        store.add_message(name, c)
        store.add_message(name, x, 1)
    assert store.get_messages("conversation 3") == [a, x, b, c]
    assert store.delete_message("conversation 3", 1) == x
    assert store.delete_last_message("conversation 3") == c
    assert store.delete_messages("conversation 4") == [a, x, b, c]
    assert store.get_keys() == sorted(n for n in names if n != "conversation 4")
    assert 0 < client.pttl("chatstore:conversation 5") <= 60_000

    async def twins() -> None:
        async_client = AsyncRedisCluster(host="127.0.0.1", port=cluster[0])
        both = RedisChatStore(client=client, async_client=async_client, ttl=60)
        await both.async_add_message("conversation 5", x, 0)
        assert (await both.aget_messages("conversation 5"))[0] == x
        assert len(await both.aget_keys()) == len(names) - 1
        await both.aclose()

    asyncio.run(twins())
    client.close()


def test_usable_as_a_llamaindex_chat_store(pytester: pytest.Pytester) -> None:
    """reference_impls.llamaindex puts RedisChatStore behind BaseChatStore; it still conforms."""
    require_module("llama_index.core", "the llamaindex extra is not installed")
    args = ["--chatstore=tests.llamaindex_stores:on_redis", "--chatstore-only", "--chatstore-hypothesis=ci"]
    result = pytester.runpytest_subprocess(*args)  # llama-index imports numpy: once per process
    # TTL-008 (a clock), BAT-001 (no batch in BaseChatStore), TAL-001 and TAL-002 (no tail read in it either)
    result.assert_outcomes(passed=len(CLAUSES) - 4, skipped=4)
    result.stdout.fnmatch_lines(["on_redis (--chatstore): CONFORMS*"])


class ReplyDroppingProxy:
    """A loopback TCP proxy to Redis that can drop the connection after forwarding a request,
    before the reply comes back: the worst moment for a client to lose its server."""

    def __init__(self, target_port: int) -> None:
        import socket
        import threading

        self.target_port = target_port
        self.drop_next_reply = False
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        import socket
        import threading

        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            threading.Thread(target=self._pipe, args=(client, upstream, False), daemon=True).start()
            threading.Thread(target=self._pipe, args=(upstream, client, True), daemon=True).start()

    def _pipe(self, source: Any, sink: Any, replies: bool) -> None:
        import contextlib
        import socket

        try:
            while data := source.recv(65536):
                if replies and self.drop_next_reply:
                    self.drop_next_reply = False
                    for end in (sink, source):
                        with contextlib.suppress(OSError):
                            end.shutdown(socket.SHUT_RDWR)  # the client sees the connection die now
                        end.close()
                    return
                sink.sendall(data)
        except OSError:
            pass

    def close(self) -> None:
        self.listener.close()


@pytest.mark.parametrize("ttl", [None, 60])
def test_a_reply_lost_in_flight_is_an_error_and_the_write_is_whole_or_nothing(
    server: RedisServer, ttl: int | None
) -> None:
    server.reset()
    port = int(server.url.rsplit(":", 1)[1].split("/")[0])
    db = server.url.rsplit("/", 1)[1]
    proxy = ReplyDroppingProxy(port)
    direct = RedisChatStore(server.url)
    a, b, c = (ChatMessage("user", t) for t in "abc")
    direct.set_messages("chat", [a])
    writes: list[tuple[Callable[[RedisChatStore], None], Callable[[list[ChatMessage]], list[ChatMessage]]]] = [
        (lambda s: s.add_message("chat", b), lambda before: [*before, b]),
        (lambda s: s.add_message("chat", c, 0), lambda before: [c, *before]),
    ]
    for write, applied in writes:
        before = direct.get_messages("chat")
        store = RedisChatStore(f"redis://127.0.0.1:{proxy.port}/{db}", ttl=ttl)
        store.get_messages("chat")  # connect first, so the dropped reply is the write's own
        proxy.drop_next_reply = True
        with pytest.raises(ChatStoreConnectionError, match="not applied, or applied whole"):
            write(store)
        # Whole or not at all, never partly and never twice: nothing retried it. (Real Redis has
        # run the whole request before the reply is lost; fakeredis may drop a transaction whose
        # MULTI was answered before EXEC ran.)
        after = direct.get_messages("chat")
        assert after in (before, applied(before)), after
        if ttl and after != before:
            assert server.client().pttl("chatstore:chat") > 0  # applied, and never without its expiry
        store.close()
    proxy.close()
    direct.close()


def test_each_xdist_worker_gets_its_own_database_on_a_users_server(
    pytester: pytest.Pytester, server: RedisServer
) -> None:
    require_module("xdist", "pytest-xdist is not installed")
    base = server.url.rsplit("/", 1)[0]
    args = [TARGET, "--chatstore-only", "--chatstore-hypothesis=ci", "-n", "2", "-p", "xdist", "-k", "not TTL"]
    result = pytester.runpytest_subprocess(*args, f"--chatstore-redis-url={base}/10")
    result.assert_outcomes(passed=len(CLAUSES) - 8)  # xdist's controller does not count deselections
    result.stdout.fnmatch_lines(
        [f"Redis: the server at {base}/10 (given by the user)*", f"Redis: the server at {base}/11 *"]
    )
    import redis

    for worker_db in (10, 11):  # gw0 and gw1: used, and emptied again at the end
        assert redis.Redis.from_url(f"{base}/{worker_db}").dbsize() == 0


def test_ctrl_c_leaves_no_server_behind(pytester: pytest.Pytester) -> None:
    """Interrupting a run (SIGINT, as Ctrl-C sends) stops the redis-server the kit started."""
    import signal

    if not REAL_REQUIRED and subprocess.run(["which", "redis-server"], capture_output=True).returncode:
        pytest.skip("no redis-server on this machine")
    pytester.makepyfile(
        slow="""
        import threading
        def test_slow(chatstore_redis_url):
            print("URL", chatstore_redis_url, flush=True)
            threading.Event().wait(60)  # stands for a long run; it is interrupted at once
        """
    )
    command = [sys.executable, "-m", "pytest", "-s", "-p", "no:cacheprovider", "slow.py", "--chatstore-redis=binary"]
    port = ""
    # A job started in the background inherits SIGINT as ignored; a person's Ctrl-C is not.
    restore_sigint = lambda: signal.signal(signal.SIGINT, signal.SIG_DFL)  # noqa: E731
    with subprocess.Popen(
        command, cwd=pytester.path, stdout=subprocess.PIPE, text=True, preexec_fn=restore_sigint
    ) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            if "URL redis://" in line:  # pytest -s prints it after the file name
                port = line.rsplit(":", 1)[1].split("/")[0]
                break
        proc.send_signal(signal.SIGINT)
        proc.wait(30)  # the kit stops its server (and waits for it) before pytest exits
    assert port
    import socket

    with pytest.raises(ConnectionRefusedError):  # nothing listens there any more
        socket.create_connection(("127.0.0.1", int(port)), timeout=2).close()


def _docker_engine() -> Any:
    """A client of a Docker engine that answers, or skip; under ``CHATSTORE_REQUIRE_DOCKER=1``, fail."""
    if importlib.util.find_spec("testcontainers") is None:
        _no_docker("the docker extra (testcontainers) is not installed")
    import docker

    from pytest_chatstore.servers.redis import _probe_engine

    try:
        # As the kit does: look for a listener first, since docker-py leaks its socket when nothing answers.
        _probe_engine(os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock"))
        client = docker.from_env(timeout=5, version="auto")  # the kit negotiates too: engines before Docker 25
        client.ping()
    except Exception as exc:  # noqa: BLE001 - no engine here: nothing to check
        _no_docker(f"no Docker engine answers ({type(exc).__name__}: {exc})")
    return client


def _no_docker(why: str) -> NoReturn:
    if REQUIRE_DOCKER:
        pytest.fail(f"CHATSTORE_REQUIRE_DOCKER is set, but {why}", pytrace=False)
    pytest.skip(why)


def test_the_docker_source_runs_the_suite_in_a_container(pytester: pytest.Pytester) -> None:
    """Needs an engine with the image (``CHATSTORE_REDIS_IMAGE``, default redis:7-alpine) available."""
    client = _docker_engine()
    from pytest_chatstore.servers.redis import DOCKER_IMAGE, DOCKER_LABEL

    image = os.environ.get("CHATSTORE_REDIS_IMAGE") or DOCKER_IMAGE
    try:
        client.images.get(image)
    except Exception:  # noqa: BLE001 - the engine lacks the image and may not reach a registry
        _no_docker(f"the Docker engine has no {image} image")
    before = {c.id for c in client.containers.list(all=True)}  # this module's server may be a container too
    result = pytester.runpytest(
        TARGET, "--chatstore-only", "--chatstore-redis=docker", *NOT_REAL_TIME, "-p", "no:xdist"
    )
    result.assert_outcomes(passed=len(CLAUSES) - 8, deselected=8)
    # The engine's API version was negotiated (CI's Docker 20.10 speaks 1.41), and the container was
    # reached on loopback even where this machine is itself a container (/.dockerenv).
    result.stdout.fnmatch_lines(
        [f"Redis: a {image} container (testcontainers, Docker API 1.*, reached on 127.0.0.1:*)"]
    )
    # The run's containers are labelled with this process's ID (the run is in-process): under xdist another worker's
    # server may be a container started or stopped meanwhile.
    mine = {"label": f"{DOCKER_LABEL}={os.getpid()}"}
    left = [c for c in client.containers.list(all=True, filters=mine) if c.id not in before]
    assert left == [], "the kit left its container behind"


def test_an_engine_that_cannot_start_the_image_falls_through_to_the_next_source(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _docker_engine()
    monkeypatch.setenv("CHATSTORE_REDIS_IMAGE", "chatstore-test/no-such-image:0")
    monkeypatch.setenv("TESTCONTAINERS_RYUK_DISABLED", "true")  # the reaper's image may not be pullable either
    found = provision("auto", require_real=REAL_REQUIRED)
    try:
        assert found.kind != "docker"
    finally:
        found.close()


class _OldEngine(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    """A Docker engine as old as 20.10 on a Unix socket: API 1.41, and it refuses any newer client."""

    daemon_threads = True


class _OldEngineHandler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path == "/version":
            self._answer(200, {"ApiVersion": "1.41", "MinAPIVersion": "1.12", "Version": "20.10.24"})
        elif self.path == "/v1.41/_ping":
            self._answer(200, "OK")
        elif not self.path.startswith("/v1.41/"):
            self._answer(400, {"message": "client version is too new. Maximum supported API version is 1.41"})
        else:
            self._answer(500, {"message": "this test engine runs no containers"})

    do_POST = do_DELETE = do_GET

    def _answer(self, status: int, body: object) -> None:
        data = (body if isinstance(body, str) else json.dumps(body)).encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain" if isinstance(body, str) else "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def address_string(self) -> str:
        return "test"

    def log_message(self, format: str, *args: object) -> None:
        pass


def test_the_docker_source_negotiates_the_api_version_of_an_older_engine(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """docker-py's default (1.45) is refused by every engine before Docker 25; the kit asks the engine."""
    require_module("testcontainers", "the docker extra (testcontainers) is not installed")
    path = tmp_path / "docker.sock"
    with _OldEngine(str(path), _OldEngineHandler) as engine:
        threading.Thread(target=engine.serve_forever, daemon=True).start()
        monkeypatch.setenv("DOCKER_HOST", f"unix://{path}")
        monkeypatch.setenv("TESTCONTAINERS_RYUK_DISABLED", "true")
        with pytest.raises(RedisUnavailable) as failed:
            provision("docker")
        engine.shutdown()
    # It got past the engine's version check to asking for a container, which this engine refuses.
    assert "could not start a " in str(failed.value)
    assert "no Docker engine answers" not in str(failed.value)
    del failed
    gc.collect()  # a client left open by the failed start would warn here (an error), not in a later test


@pytest.mark.parametrize("host", ["unix:///nonexistent/docker.sock", "tcp://127.0.0.1:9"])
def test_no_docker_engine_is_said_at_once(monkeypatch: pytest.MonkeyPatch, host: str) -> None:
    require_module("testcontainers", "the docker extra (testcontainers) is not installed")
    monkeypatch.setenv("DOCKER_HOST", host)
    with pytest.raises(RedisUnavailable, match=f"no Docker engine answers at {host}"):
        provision("docker")


def test_a_dead_kits_server_directory_is_swept_and_nothing_else(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A kit process killed before its exit handlers ran leaves its server's directory; the next kit-started
    server removes it, and only it: not a live process's, not a name the kit did not make."""
    import tempfile

    from pytest_chatstore.servers import redis as servers

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    made = {
        "dead": tmp_path / f"{servers.WORKDIR_PREFIX}{dead.pid}-abc",
        "alive": tmp_path / f"{servers.WORKDIR_PREFIX}{os.getpid()}-abc",
        "not ours": tmp_path / f"{servers.WORKDIR_PREFIX}x{dead.pid}-abc",
        "older kit": tmp_path / f"{servers.WORKDIR_PREFIX}abc_1234",
    }
    for path in made.values():
        path.mkdir()
        (path / "dump.rdb").write_bytes(b"")
    servers._sweep_workdirs()
    assert {name for name, path in made.items() if path.exists()} == {"alive", "not ours", "older kit"}


def _prc_001(pytester: pytest.Pytester) -> dict[str, Any]:
    """PRC-001 alone on the reference store: its clause result in the JSON report."""
    result = pytester.runpytest(
        TARGET,
        "--chatstore-only",
        "--chatstore-hypothesis=ci",
        "--chatstore-clauses=PRC-001",
        "--chatstore-report=r.json",
    )
    result.assert_outcomes(passed=1, deselected=len(CLAUSES) - 1)
    clause: dict[str, Any] = json.loads((pytester.path / "r.json").read_text())["targets"][0]["clauses"][0]
    return clause


def test_worker_processes_run_in_rounds_until_enough_calls_overlapped_and_say_how_many(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The module the inner run will use: sys.modules' (pytester keeps what was there before a run), not the package's
    # attribute, which an earlier in-process run may have left pointing at a module it imported and then dropped.
    test_production = importlib.import_module("pytest_chatstore.suite.test_production")
    monkeypatch.setattr(test_production, "PRC_OVERLAP_SHARE", 0)  # any round is enough: one round
    one = _prc_001(pytester)["evidence"]
    assert one["overlaps"] > 0  # the evidence of a race between processes: calls that overlapped another's
    monkeypatch.setattr(test_production, "PRC_OVERLAP_SHARE", 10**9)  # never enough: every round
    every = _prc_001(pytester)["evidence"]
    more = test_production.PRC_ROUNDS - 1
    # Each round more: the same calls again, at least 4 workers x 8 (4 operations and 4 inserts at the floor).
    assert (every["calls"] - one["calls"]) % more == 0, (one, every)
    assert every["calls"] - one["calls"] >= more * test_production.WORKERS * 8, (one, every)
    assert every["overlaps"] > one["overlaps"]
