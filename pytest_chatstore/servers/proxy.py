"""A fault-injecting TCP proxy: the kit's nemesis between a store and its server.

A :class:`Nemesis` listens on loopback, one listener per server address a store
asks for (:meth:`Nemesis.proxied`, the injectable a factory receives, or
:meth:`Nemesis.url` for a ``redis_url``), and forwards bytes both ways. It counts
*requests*: the bytes a client sends on a connection after the server's last
reply (a command, a pipeline, a transaction sent in one go). On command it
injects one fault at the n-th request from now:

- ``request``: the connection is dropped before the request reaches the server
  (the request is lost);
- ``reply``: the request reaches the server, and the connection is dropped as
  soon as the server answers, before the client sees the answer (the reply is
  lost: the write happened, and the caller cannot know it);
- ``stall``: as ``reply``, but the answer is held for a while first (a reply
  that comes too late: past a client's timeout, it is lost as well).

:meth:`Nemesis.down` drops every connection and refuses new ones until
:meth:`Nemesis.up` (a server out of reach). Every wait is bounded: sockets
time out after ``limit`` seconds, threads poll for the end, :meth:`Nemesis.close`
joins them with a deadline. The nemesis knows nothing of the protocol: it works
for any request-reply protocol over TCP (Redis, PostgreSQL, HTTP).
"""

from __future__ import annotations

import contextlib
import select
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit, urlunsplit

Fault = Literal["request", "reply", "stall"]

POLL = 0.05
"""Seconds a proxy thread waits on its sockets before it looks whether it should stop."""


@dataclass
class _Armed:
    fault: Fault
    at: int
    """The request number (of :attr:`Nemesis.requests`) the fault hits."""
    stall: float = 0.0
    met: bool = False


@dataclass
class _Pipe:
    """One client connection and its connection to the server."""

    client: socket.socket
    server: socket.socket
    awaiting: bool = False
    """The client sent a request and the server has not answered it yet."""
    doomed: _Armed | None = None
    """The fault that drops this connection when the server answers."""
    closed: bool = False


class Nemesis:
    """Loopback proxies for the servers a store uses, one fault at a time on command."""

    def __init__(self, *, limit: float = 10.0) -> None:
        self.limit = limit
        """Seconds any socket operation of the proxy may take."""
        self.requests = 0
        """Requests seen so far, over every connection of every listener."""
        self._lock = threading.Lock()
        self._armed: _Armed | None = None
        self._down = False
        self._closed = False
        self._listeners: dict[tuple[str, int], socket.socket] = {}
        self._threads: list[threading.Thread] = []
        self._pipes: list[_Pipe] = []

    # -- what a factory receives ----------------------------------------------------------------
    def proxied(self, host: str, port: int) -> tuple[str, int]:
        """The loopback address to use instead of ``(host, port)``: the same server, through the nemesis."""
        key = (host, int(port))
        with self._lock:
            if self._closed:
                raise RuntimeError("the fault proxy is closed")
            listener = self._listeners.get(key)
            if listener is None:
                listener = socket.create_server(("127.0.0.1", 0))
                listener.settimeout(POLL)
                self._listeners[key] = listener
                thread = threading.Thread(target=self._accept, args=(listener, key), daemon=True)
                thread.name = f"chatstore-proxy-{host}:{port}"
                self._threads.append(thread)
                thread.start()
            address: tuple[str, int] = listener.getsockname()[:2]
        return address

    def url(self, url: str) -> str:
        """``url`` (``redis://user:pw@host:port/db``) with its host and port replaced by the nemesis's."""
        return proxied_url(url, self.proxied, default_port=6379)

    # -- commands ---------------------------------------------------------------------------------
    def arm(self, fault: Fault, at: int = 1, *, stall: float = 0.0) -> None:
        """Inject ``fault`` at the ``at``-th request from now (1: the next one)."""
        with self._lock:
            self._armed = _Armed(fault, self.requests + at, stall)

    def disarm(self) -> bool:
        """Stop waiting for the armed fault; whether it happened."""
        with self._lock:
            armed, self._armed = self._armed, None
        return armed is not None and armed.met

    def down(self) -> None:
        """Drop every connection and refuse new ones, until :meth:`up`."""
        with self._lock:
            self._down = True
            pipes = list(self._pipes)
        for pipe in pipes:
            self._drop(pipe)

    def up(self) -> None:
        with self._lock:
            self._down = False

    def close(self) -> None:
        """Drop everything and stop every thread (each within its poll interval; joined with a deadline)."""
        with self._lock:
            self._closed = True
            pipes, listeners = list(self._pipes), list(self._listeners.values())
        for pipe in pipes:
            self._drop(pipe)
        for listener in listeners:
            listener.close()
        deadline = time.monotonic() + 2.0
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))

    def __enter__(self) -> Nemesis:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the proxy --------------------------------------------------------------------------------
    def _accept(self, listener: socket.socket, upstream: tuple[str, int]) -> None:
        while not self._closed:
            try:
                client, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return  # closed
            if self._down or self._closed:
                _shut(client)
                continue
            try:
                server = socket.create_connection(upstream, timeout=self.limit)
            except OSError:
                _shut(client)
                continue
            for sock in (client, server):
                sock.settimeout(self.limit)
                with contextlib.suppress(OSError):
                    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            pipe = _Pipe(client, server)
            thread = threading.Thread(target=self._forward, args=(pipe,), daemon=True)
            with self._lock:
                self._pipes.append(pipe)
                self._threads.append(thread)
            thread.start()

    def _forward(self, pipe: _Pipe) -> None:
        try:
            while not pipe.closed and not self._closed:
                try:
                    ready, _, _ = select.select([pipe.client, pipe.server], [], [], POLL)
                except (OSError, ValueError):
                    return
                for sock in ready:
                    data = sock.recv(65536)
                    if not data:
                        return
                    if sock is pipe.client:
                        if not self._from_client(pipe, data):
                            return
                    elif not self._from_server(pipe, data):
                        return
        except OSError:
            return
        finally:
            self._drop(pipe)

    def _from_client(self, pipe: _Pipe, data: bytes) -> bool:
        if not pipe.awaiting:  # a new request
            with self._lock:
                self.requests += 1
                armed = self._armed
                hit = armed is not None and not armed.met and armed.at == self.requests
                if hit and armed is not None:
                    armed.met = True
                    if armed.fault == "request":
                        return False  # dropped before the server saw it
                    pipe.doomed = armed
            pipe.awaiting = True
        pipe.server.sendall(data)
        return True

    def _from_server(self, pipe: _Pipe, data: bytes) -> bool:
        doomed = pipe.doomed
        if doomed is not None:
            end = time.monotonic() + min(doomed.stall, self.limit)
            while time.monotonic() < end and not self._closed:
                time.sleep(POLL)  # a reply held back: the client waits, or gives up on its own timeout
            return False  # the server answered; the client never learns it
        pipe.awaiting = False
        pipe.client.sendall(data)
        return True

    def _drop(self, pipe: _Pipe) -> None:
        with self._lock:
            pipe.closed = True
            if pipe in self._pipes:
                self._pipes.remove(pipe)
        _shut(pipe.client)
        _shut(pipe.server)


def _shut(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()


def direct(host: str, port: int) -> tuple[str, int]:
    """The ``proxied`` a factory receives outside the faults clauses: the address itself."""
    return host, port


def proxied_url(url: str, proxied: Callable[[str, int], tuple[str, int]], *, default_port: int) -> str:
    """``url`` (``scheme://user:pw@host:port/path?query``) reaching its server through ``proxied``: the factory's
    one line to opt in to the faults clauses, for a DSN (``proxied_url(dsn, proxied, default_port=5432)``)."""
    parts = urlsplit(url)
    host, port = proxied(parts.hostname or "127.0.0.1", parts.port or default_port)
    userinfo = parts.netloc.rpartition("@")[0]
    netloc = f"{userinfo}@{host}:{port}" if userinfo else f"{host}:{port}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
