"""The fault proxy (:mod:`pytest_chatstore.servers.proxy`) and the faults clauses' ways in.

The proxy is checked against a small echo server of the test's own (one reply per
request, and a record of what reached it); the clauses against Redis stores: one
that retries safely passes, a factory taking ``proxied`` instead of ``redis_url``
gets the clauses, and the report says what the store did under each fault.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import socketserver
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from pytest_chatstore.servers.proxy import Nemesis, direct
from tests.conftest import REDIS_USED

REAL_REQUIRED = bool(os.environ.get("CI"))


class _Echo(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        while data := self.request.recv(1024):
            self.server.seen.append(data)  # type: ignore[attr-defined]
            self.request.sendall(b"ok " + data)


@pytest.fixture
def echo() -> Iterator[tuple[tuple[str, int], list[bytes]]]:
    """A request-reply server on loopback: its address, and every request that reached it."""
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Echo)
    server.daemon_threads = True
    server.seen = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    host, port = server.server_address[:2]
    yield (str(host), int(port)), server.seen  # type: ignore[attr-defined]
    server.shutdown()
    server.server_close()


def _ask(sock: socket.socket, data: bytes) -> bytes:
    sock.sendall(data)
    return sock.recv(1024)


def test_requests_and_replies_pass_through_and_are_counted(echo: tuple[tuple[str, int], list[bytes]]) -> None:
    address, seen = echo
    with Nemesis(limit=5) as nemesis, socket.create_connection(nemesis.proxied(*address), timeout=5) as sock:
        assert _ask(sock, b"a") == b"ok a"
        assert _ask(sock, b"b") == b"ok b"
        assert nemesis.requests == 2
    assert seen == [b"a", b"b"]


def test_a_lost_request_never_reaches_the_server(echo: tuple[tuple[str, int], list[bytes]]) -> None:
    address, seen = echo
    with Nemesis(limit=5) as nemesis, socket.create_connection(nemesis.proxied(*address), timeout=5) as sock:
        assert _ask(sock, b"first") == b"ok first"
        nemesis.arm("request")
        assert _ask(sock, b"lost") == b""  # the connection is closed: no reply
        assert nemesis.disarm()
    assert seen == [b"first"]


def test_a_lost_reply_reached_the_server(echo: tuple[tuple[str, int], list[bytes]]) -> None:
    address, seen = echo
    with Nemesis(limit=5) as nemesis, socket.create_connection(nemesis.proxied(*address), timeout=5) as sock:
        nemesis.arm("reply")
        assert _ask(sock, b"applied") == b""
        assert nemesis.disarm()
    assert seen == [b"applied"]


def test_the_fault_hits_the_request_it_was_armed_for(echo: tuple[tuple[str, int], list[bytes]]) -> None:
    address, seen = echo
    with Nemesis(limit=5) as nemesis:
        nemesis.arm("request", 2)
        with socket.create_connection(nemesis.proxied(*address), timeout=5) as sock:
            assert _ask(sock, b"one") == b"ok one"
            assert _ask(sock, b"two") == b""
        with socket.create_connection(nemesis.proxied(*address), timeout=5) as sock:  # a new connection works
            assert _ask(sock, b"three") == b"ok three"
        assert nemesis.disarm()  # it was met (once: the third request went through)
    assert seen == [b"one", b"three"]


def test_a_stalled_reply_is_held_past_the_clients_timeout(echo: tuple[tuple[str, int], list[bytes]]) -> None:
    address, seen = echo
    with Nemesis(limit=5) as nemesis, socket.create_connection(nemesis.proxied(*address), timeout=5) as sock:
        nemesis.arm("stall", stall=3.0)
        sock.settimeout(0.05)
        sock.sendall(b"slow")
        with pytest.raises(TimeoutError):
            sock.recv(1024)
    assert seen == [b"slow"]


def test_the_server_out_of_reach_until_up(echo: tuple[tuple[str, int], list[bytes]]) -> None:
    address, _ = echo
    with Nemesis(limit=5) as nemesis:
        proxied = nemesis.proxied(*address)
        with socket.create_connection(proxied, timeout=5) as alive:
            assert _ask(alive, b"before") == b"ok before"
            nemesis.down()
            assert alive.recv(1024) == b""  # dropped
        # Accepted and closed at once: the request meets a closed socket (EOF, or a reset if it arrived after).
        with socket.create_connection(proxied, timeout=5) as refused, contextlib.suppress(ConnectionResetError):
            assert _ask(refused, b"during") == b""
        nemesis.up()
        with socket.create_connection(proxied, timeout=5) as again:
            assert _ask(again, b"after") == b"ok after"


def test_a_url_keeps_its_scheme_credentials_and_database() -> None:
    with Nemesis() as nemesis:
        url = nemesis.url("redis://user:secret@127.0.0.1:6390/7?protocol=3")
        host, port = nemesis.proxied("127.0.0.1", 6390)
    assert url == f"redis://user:secret@{host}:{port}/7?protocol=3"
    assert host == "127.0.0.1"
    assert direct("db.example", 5432) == ("db.example", 5432)


def test_closing_stops_every_thread_of_the_proxy(echo: tuple[tuple[str, int], list[bytes]]) -> None:
    address, _ = echo
    nemesis = Nemesis(limit=5)
    sock = socket.create_connection(nemesis.proxied(*address), timeout=5)
    assert _ask(sock, b"x") == b"ok x"
    nemesis.close()
    sock.close()
    assert not [t for t in threading.enumerate() if t.name.startswith("chatstore-proxy")]
    with pytest.raises(RuntimeError, match="closed"):
        nemesis.proxied(*address)


# -- the clauses' ways in --------------------------------------------------------------------

pytest.importorskip("redis", reason="the redis extra is not installed")
FAULTS = ["--chatstore-only", "--chatstore-hypothesis=ci", "-k", "FLT", "-q"]


def test_a_store_that_retries_idempotent_writes_passes(pytester: pytest.Pytester) -> None:
    # redis-py's retrying clients, as in RetriesEverything (which fails FLT-001), but each write carries an ID.
    result = pytester.runpytest_subprocess("--chatstore=tests.fault_stores:IdempotentRetries", *FAULTS)
    result.assert_outcomes(passed=5, deselected=len(_clauses()) - 5)
    result.stdout.fnmatch_lines(["*FLT-001 13 cases (returned/applied once 13)*"])


def test_a_step_of_a_write_sent_again_is_a_duplicate_not_a_mix(pytester: pytest.Pytester) -> None:
    # A replace of one RPUSH per message on a retrying client: a lost reply to the second push leaves the new
    # conversation with that message twice. FLT-001's, and only FLT-001's: the write was applied, and is no mix.
    result = pytester.runpytest_subprocess("--chatstore=tests.broken_redis:RetriesEachPush", *FAULTS)
    result.assert_outcomes(passed=4, failed=1, deselected=len(_clauses()) - 5)
    result.stdout.fnmatch_lines(["*replace (sync), the reply of request 3 of 3 lost: returned; part applied twice*"])


def test_a_factory_taking_proxied_gets_the_faults_clauses(
    pytester: pytest.Pytester, pytestconfig: pytest.Config, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pytest_chatstore.servers.redis import provision

    server = provision("auto", require_real=REAL_REQUIRED)
    pytestconfig.stash.setdefault(REDIS_USED, set()).add(server.description)
    try:
        where = server.url.removeprefix("redis://")
        monkeypatch.setenv("CHATSTORE_TEST_REDIS", where)
        result = pytester.runpytest_subprocess(
            "--chatstore=tests.fault_stores:via_proxied", "--chatstore-only", "-q", "-k", "FLT or ORD_001"
        )
        result.assert_outcomes(passed=6, deselected=len(_clauses()) - 6)  # ORD-001 through the address itself
    finally:
        server.close()


def test_the_report_says_what_the_store_did_under_each_fault(pytester: pytest.Pytester, tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    result = pytester.runpytest_subprocess(
        "--chatstore=tests.broken_redis:RetriesEverything",
        f"--chatstore-report={report}",
        *FAULTS[:-3],
        "-k",
        "FLT_001",
    )
    result.assert_outcomes(failed=1, deselected=len(_clauses()) - 1)
    result.stdout.fnmatch_lines(["*append (sync), the reply of request 1 of 1 lost: returned; applied twice*"])
    (clause,) = [c for t in json.loads(report.read_text())["targets"] for c in t["clauses"] if c["id"] == "FLT-001"]
    cases = {(case["operation"], case["effect"]) for case in clause["evidence"]["faults"]}
    assert ("append (sync)", "applied twice") in cases
    assert ("replace (sync)", "applied once") in cases  # replacing twice is replacing once
    jsonschema = pytest.importorskip("jsonschema")
    schema = Path(__file__).parent.parent / "pytest_chatstore" / "report" / "report.schema.json"
    jsonschema.validate(json.loads(report.read_text()), json.loads(schema.read_text()))


def _clauses() -> dict[str, object]:
    from pytest_chatstore.spec.clauses import CLAUSES

    return dict(CLAUSES)


def test_a_server_the_kit_started_restarts_with_its_data_on_the_same_port() -> None:
    from pytest_chatstore.servers.redis import RedisUnavailable, provision

    try:
        server = provision("binary")
    except RedisUnavailable:
        if REAL_REQUIRED:
            raise
        pytest.skip("no redis-server binary on this machine")
    try:
        server.client().rpush("kept", "a", "b")
        assert server.restart is not None
        server.restart()
        assert server.client().lrange("kept", 0, -1) == [b"a", b"b"]  # a fresh client, the same URL
    finally:
        server.close()


def test_a_client_that_retries_on_timeout_is_caught_by_the_stalled_reply(pytester: pytest.Pytester) -> None:
    # It never retries a dropped connection, so only FLT-001's stalled reply (held past its 0.5 s timeout) shows it.
    result = pytester.runpytest_subprocess(
        "--chatstore=tests.fault_stores:RetriesOnTimeout", *FAULTS[:-3], "-k", "FLT_001"
    )
    result.assert_outcomes(failed=1, deselected=len(_clauses()) - 1)
    result.stdout.fnmatch_lines(
        ["*- append (sync), the reply of request 1 of 1 lost after 2 s: returned; applied twice*"]
    )
    result.stdout.fnmatch_lines(["*what happened: 1 of * faulted writes were applied twice, whole or in part:*"])
