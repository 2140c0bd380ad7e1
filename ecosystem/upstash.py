"""A local stand-in for Upstash's Redis REST API, over a real Redis: so the Upstash stores get a matrix row.

Upstash serves Redis over HTTP (https://upstash.com/docs/redis/features/restapi): ``POST /`` with a
JSON array ``["LPUSH", "k", "v"]`` runs one command and answers ``{"result": ...}`` or
``{"error": "..."}``; ``POST /pipeline`` and ``POST /multi-exec`` take an array of commands and answer
an array of those objects, ``/multi-exec`` inside ``MULTI``/``EXEC``. With the header
``Upstash-Encoding: base64`` every string in a result except ``OK`` is base64-encoded. The client,
``upstash-redis``, sends ``Authorization: Bearer TOKEN``.

This bridge takes the token to be the URL of the Redis database to use (``redis://127.0.0.1:PORT/15``),
so each store the kit builds talks to the database the kit emptied for it. It listens on loopback
only, one per process, and passes each command to Redis unchanged, answering with Redis's raw reply.
What a row on it checks is the store's logic over real Redis, not Upstash's servers: their limits,
latency and any difference in their command set are not exercised.
"""

from __future__ import annotations

import base64
import http.server
import json
import threading
from typing import Any

_LOCK = threading.Lock()
_SERVER: list[str] = []
_CLIENTS: dict[str, Any] = {}


def bridge_url() -> str:
    """The bridge's URL, starting it (a daemon thread of this process, on a free loopback port) once."""
    with _LOCK:
        if not _SERVER:
            server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
            server.daemon_threads = True
            threading.Thread(target=server.serve_forever, name="upstash-bridge", daemon=True).start()
            _SERVER.append(f"http://127.0.0.1:{server.server_address[1]}")
        return _SERVER[0]


def _client(url: str) -> Any:
    import redis

    with _LOCK:
        if url not in _CLIENTS:
            _CLIENTS[url] = redis.Redis.from_url(url)
        return _CLIENTS[url]


def close_clients() -> None:
    """Close the bridge's connections to Redis (a test's clean-up; the bridge reconnects when asked again)."""
    with _LOCK:
        for client in _CLIENTS.values():
            client.close()
        _CLIENTS.clear()


def encode(reply: Any, base64_strings: bool) -> Any:
    """A raw Redis reply as Upstash's JSON: bytes as text (base64 when asked, except ``OK``), arrays in turn."""
    if isinstance(reply, bytes):
        if reply == b"OK" or not base64_strings:
            return reply.decode("utf-8", "replace")
        return base64.b64encode(reply).decode()
    if isinstance(reply, (list, tuple)):
        return [encode(item, base64_strings) for item in reply]
    return reply  # int or None


def run(client: Any, commands: list[list[Any]], transaction: bool) -> list[dict[str, Any]]:
    """Run ``commands`` on one connection, raw replies, each answered as ``{"result"}`` or ``{"error"}``."""
    import redis

    connection = client.connection_pool.get_connection()
    try:
        if transaction:
            connection.send_command("MULTI")
            connection.read_response()
        answers: list[dict[str, Any]] = []
        for command in commands:
            connection.send_command(*[str(part) for part in command])
            try:
                answers.append({"result": connection.read_response()})
            except redis.ResponseError as exc:
                answers.append({"error": str(exc)})
        if transaction:
            connection.send_command("EXEC")
            replies = connection.read_response()
            answers = [{"result": r} if not isinstance(r, Exception) else {"error": str(r)} for r in replies]
        return answers
    finally:
        client.connection_pool.release(connection)


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: the client reuses its connection
    disable_nagle_algorithm = True  # headers and body are two writes: without this, 40 ms of delayed ACK each

    def do_POST(self) -> None:
        token = self.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        if not token.startswith("redis://"):
            self._answer(401, {"error": "Unauthorized: the bridge's token is the URL of a Redis database"})
            return
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"null")
        base64_strings = self.headers.get("Upstash-Encoding", "").lower() == "base64"
        path = self.path.rstrip("/")
        batch = path in ("/pipeline", "/multi-exec")
        commands = body if batch else [body]
        if not isinstance(commands, list) or not all(isinstance(c, list) and c for c in commands):
            self._answer(400, {"error": "ERR the body must be a command (a JSON array) or an array of them"})
            return
        answers = run(_client(token), commands, transaction=path == "/multi-exec")
        for answer in answers:
            if "result" in answer:
                answer["result"] = encode(answer["result"], base64_strings)
        if batch:
            self._answer(200, answers)
        else:
            self._answer(400 if "error" in answers[0] else 200, answers[0])

    def _answer(self, status: int, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        pass
