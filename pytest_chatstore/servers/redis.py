"""A Redis server for the suite: found or started, isolated per example, and stopped.

Where it comes from, in this order unless a setting chooses:

1. ``url``: a server the user names (``--chatstore-redis-url``). The kit uses
   one database index of it, which must be empty when the run starts, and only
   ever deletes keys in that database (``SCAN`` + ``UNLINK``), never ``FLUSHDB``;
   keys elsewhere are never touched.
2. ``docker``: a container through testcontainers, when it is installed and a
   Docker engine answers.
3. ``binary``: a local ``redis-server`` on a free loopback port, in a temporary
   directory, without persistence, stopped at session end (and killed with the
   test process on Linux, even after ``kill -9``).
4. ``fakeredis``: fakeredis served over TCP, the embedded fallback. It is not a
   real server; with ``require_real`` this is an error instead.

Nothing here is imported unless a target or fixture needs Redis.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import importlib.util
import os
import queue
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from pytest_chatstore.servers.processes import KIT_PROCESSES

KINDS = ("url", "docker", "binary", "fakeredis")
REAL = ("url", "docker", "binary")
DEFAULT_DB = 15
"""Database index the kit uses on a user's server when the URL names none."""


class RedisUnavailable(Exception):
    """No Redis server could be had as asked; the message says what was tried."""


class RedisUsageError(RedisUnavailable):
    """The user's Redis URL cannot be used as given (its database holds data); the message says what to do."""


@dataclass
class RedisServer:
    """A server the suite can use: its URL (with the database index), what it is, and how to stop it."""

    url: str
    kind: str
    description: str
    owned: bool
    """Started by the kit: it may flush. A user's server (``url``) is never flushed."""
    stop: Callable[[], None] = field(default=lambda: None, repr=False)
    claimed: bool = False
    """On a user's server: the kit found its database empty and may delete what the run writes there."""
    kit_databases: frozenset[int] = frozenset({0})
    """The databases the kit writes to (this one, and those of other xdist workers on a shared server)."""
    restart: Callable[[], None] | None = field(default=None, repr=False)
    """Restart the server with its data kept (a server the kit started from the binary; None for any other)."""
    _client: Any = field(default=None, repr=False)

    @property
    def real(self) -> bool:
        return self.kind in REAL

    def client(self) -> Any:
        """A redis-py client on the kit's database (the kit's own back door, not the store's)."""
        if self._client is None:
            import redis

            self._client = redis.Redis.from_url(self.url)
        return self._client

    def reset(self) -> None:
        """Empty the kit's database before an example: FLUSHDB on an owned server, else delete key by key."""
        db = self.client()
        if self.owned:
            db.flushdb()
            return
        if not self.claimed:
            raise RedisUnavailable("refusing to delete keys in a database the kit has not checked empty")
        for batch in _batched(db.scan_iter(count=1000), 500):
            db.unlink(*batch)

    def close(self) -> None:
        """Stop an owned server; on a user's server, delete what the run left in the kit's database."""
        if not self.owned and self.claimed:
            with contextlib.suppress(Exception):
                self.reset()
        if self._client is not None:
            self._client.close()
        self.stop()


def _batched(items: Any, size: int) -> Any:
    batch: list[Any] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def provision(
    kind: str = "auto", url: str | None = None, *, require_real: bool = False, worker: int = 0
) -> RedisServer:
    """Find or start a server. ``kind`` is ``auto`` or one of :data:`KINDS`; ``worker`` is the xdist worker number."""
    tried: list[str] = []
    # A URL the user names is used or is an error: never silently replaced by another server.
    order = [kind] if kind != "auto" else ["url"] if url else ["docker", "binary", "fakeredis"]
    for candidate in order:
        if candidate == "fakeredis" and require_real:
            tried.append("fakeredis (refused: a real server is required)")
            continue
        try:
            return _PROVIDERS[candidate](url, worker)
        except RedisUnavailable as exc:
            tried.append(f"{candidate}: {exc}")
    raise RedisUnavailable("no Redis server: " + "; ".join(tried))


def _from_url(url: str | None, worker: int) -> RedisServer:
    if not url:
        raise RedisUnavailable("no URL given (--chatstore-redis-url or CHATSTORE_REDIS_URL)")
    parts = urlsplit(url)
    base_db = int(parts.path.strip("/") or DEFAULT_DB)
    db_url = urlunsplit(parts._replace(path=f"/{base_db + worker}"))
    server = RedisServer(db_url, "url", f"the server at {_redact(db_url)} (given by the user)", owned=False)
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1") or 1)
    server.kit_databases = frozenset(range(base_db, base_db + workers))
    try:
        size = server.client().dbsize()
    except Exception as exc:  # noqa: BLE001 - any failure to reach it is reported as such
        raise RedisUnavailable(f"cannot reach {_redact(db_url)}: {exc}") from None
    if size:
        suggestion = _empty_database(server.client(), avoid=base_db + worker)
        server.close()
        keys = "1 key" if size == 1 else f"{size} keys"
        raise RedisUsageError(
            f"database {base_db + worker} of {_redact(url)} holds {keys}; the kit needs an empty database it "
            "can own for the run and never deletes data it did not write. "
            + (
                f"Database {suggestion} of that server is empty: name it in the URL (…/{suggestion})"
                if suggestion is not None
                else "No database of that server is empty: give the kit a server or database of its own"
            )
            + " or empty this one yourself."
        )
    server.claimed = True
    return server


def _empty_database(client: Any, *, avoid: int) -> int | None:
    """The highest-numbered empty database of the server (``INFO keyspace`` lists the others), or None."""
    try:
        count = int(client.config_get("databases").get("databases", 16))
    except Exception:  # noqa: BLE001 - CONFIG may be disabled (managed servers): assume Redis's default
        count = 16
    try:
        used = {int(name.removeprefix("db")) for name in client.info("keyspace")}
    except Exception:  # noqa: BLE001 - then no suggestion rather than a wrong one
        return None
    free = [db for db in range(count) if db not in used and db != avoid]
    return free[-1] if free else None


def check_url(url: str, worker: int = 0) -> None:
    """Raise :class:`RedisUsageError` if the user's database cannot be used; say nothing if it cannot be reached.

    Called when the run starts, so that a database holding data is a usage error up front, not a run of
    clauses that were never checked. Reaching the server is the provisioning's business.
    """
    try:
        server = _from_url(url, worker)
    except RedisUsageError:
        raise
    except RedisUnavailable:
        return
    server.claimed = False  # only looked: nothing to clean up
    server.close()


def _redact(url: str) -> str:
    parts = urlsplit(url)
    if parts.password:
        parts = parts._replace(netloc=parts.netloc.replace(f":{parts.password}@", ":***@"))
    return urlunsplit(parts)


DOCKER_IMAGE = "redis:7-alpine"
"""The image the ``docker`` source starts; the environment variable ``CHATSTORE_REDIS_IMAGE`` overrides it."""

DOCKER_LABEL = "pytest-chatstore.pid"
"""The label on each container the kit starts: the ID of the process that started it (``docker ps --filter
label=pytest-chatstore.pid`` lists them)."""


def _docker(url: str | None, worker: int) -> RedisServer:
    try:
        import docker
    except ImportError:
        raise RedisUnavailable("testcontainers is not installed (pip install 'pytest-chatstore[docker]')") from None
    try:  # testcontainers 4.x moved the module and warns on the old path
        from testcontainers.community.redis import RedisContainer
    except ImportError:
        from testcontainers.redis import RedisContainer
    host = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    _probe_engine(host)
    client = None
    try:
        # "auto" asks the engine for its API version (Docker 20.10 speaks 1.41; docker-py's default,
        # 1.45, is refused by every engine older than Docker 25). Safe only after the probe above:
        # docker-py leaks the socket when nothing answers there.
        client = docker.from_env(timeout=5, version="auto")
        client.ping()
        api = client.api.api_version
    except Exception as exc:  # noqa: BLE001 - no engine, no container
        raise RedisUnavailable(f"no Docker engine answers at {host} ({type(exc).__name__}: {exc})"[:300]) from None
    finally:
        if client is not None:
            client.close()
    image = os.environ.get("CHATSTORE_REDIS_IMAGE") or DOCKER_IMAGE
    local = host.startswith("unix://")

    class Container(RedisContainer):
        """Reached on an address the kit checks, so that a machine which is itself a container does not hang."""

        address: tuple[str, int] | None = None

        def get_container_host_ip(self) -> str:
            return self.reach()[0]

        def get_exposed_port(self, port: int) -> int:
            return self.reach()[1]

        def reach(self) -> tuple[str, int]:
            if self.address is None:
                if local and not _address_chosen_by_user():
                    self.address = _reachable(self)
                else:
                    self.address = (super().get_container_host_ip(), super().get_exposed_port(self.port))
            return self.address

    container = Container(image, labels={DOCKER_LABEL: str(os.getpid())})
    if local:  # an engine on this machine: publish on loopback only, never on every interface
        container.ports[str(container.port)] = ("127.0.0.1", None)  # type: ignore[assignment]
    try:
        container.start()
    except Exception as exc:  # noqa: BLE001 - an engine without the image or a registry: try the next source
        with contextlib.suppress(Exception):
            container.stop()
        with contextlib.suppress(Exception):  # testcontainers keeps a client of its own: close its sockets now
            container.get_docker_client().client.close()
        hint = ""
        if "ryuk" in str(exc).lower():
            hint = "testcontainers' reaper (Ryuk) image cannot be had: set TESTCONTAINERS_RYUK_DISABLED=true; "
        why = f"{type(exc).__name__}: {exc}"[:300]
        raise RedisUnavailable(f"could not start a {image} container ({hint}{why})") from None
    where, port = container.reach()
    return RedisServer(
        f"redis://{where}:{port}/0",
        "docker",
        f"a {image} container (testcontainers, Docker API {api}, reached on {where}:{port})",
        True,
        container.stop,
    )


def _probe_engine(host: str) -> None:
    """Raise :class:`RedisUnavailable` unless something listens where the Docker engine should be."""
    parts = urlsplit(host)
    try:
        if parts.scheme == "unix":
            with socket.socket(socket.AF_UNIX) as probe:
                probe.settimeout(2)
                probe.connect(parts.path)
        elif parts.scheme in ("tcp", "http", "https") and parts.hostname:
            socket.create_connection((parts.hostname, parts.port or 2375), timeout=2).close()
    except OSError as exc:
        raise RedisUnavailable(f"no Docker engine answers at {host} ({exc.strerror or type(exc).__name__})") from None


DOCKER_REACH_SECONDS = 20.0
"""How long the kit tries the addresses of a container it started before it gives up on it."""


def _address_chosen_by_user() -> bool:
    return any(
        os.environ.get(name) for name in ("TC_HOST", "TESTCONTAINERS_HOST_OVERRIDE", "TESTCONTAINERS_CONNECTION_MODE")
    )


def _reachable(container: Any) -> tuple[str, int]:
    """The address this process reaches the Redis port of a container on a local engine.

    testcontainers guesses, and on a machine that is itself a container (``/.dockerenv``) its
    guess is the bridge gateway, where connections can hang for minutes. The kit tries, in
    order: loopback and the published port (the engine shares this machine's network), then the
    container's own address on the engine's bridge (an engine whose socket is mounted from the
    host), each until Redis answers ``PING``. A user's ``TC_HOST`` or
    ``TESTCONTAINERS_CONNECTION_MODE`` is followed as given instead.
    """
    port = container.port
    docker_client = container.get_docker_client()
    cid = container.get_container_id()
    candidates = [("127.0.0.1", int(docker_client.port(cid, port)))]
    with contextlib.suppress(Exception):
        candidates.append((docker_client.bridge_ip(cid), port))
    deadline = time.monotonic() + DOCKER_REACH_SECONDS
    bridge_answered: float | None = None
    while time.monotonic() < deadline:
        if _pongs(candidates[0]):
            return candidates[0]
        # The engine's loopback proxy may accept before Redis behind it is ready: prefer loopback for a
        # grace period after the bridge address first answers, so the choice does not depend on timing.
        if len(candidates) > 1 and _pongs(candidates[1]):
            bridge_answered = bridge_answered or time.monotonic()
            if time.monotonic() - bridge_answered >= LOOPBACK_GRACE:
                return candidates[1]
        time.sleep(0.2)
    tried = ", ".join(f"{h}:{p}" for h, p in candidates)
    raise RedisUnavailable(f"the container started but answers on none of {tried}")


LOOPBACK_GRACE = 3.0
"""Seconds the kit keeps trying loopback after a container's bridge address answers (see :func:`_reachable`)."""


def _pongs(address: tuple[str, int]) -> bool:
    """Whether Redis answers ``PING`` at ``address`` (within a second)."""
    try:
        with socket.create_connection(address, timeout=1) as probe:
            probe.sendall(b"PING\r\n")
            return probe.recv(7).startswith(b"+PONG")
    except OSError:
        return False


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _die_with_parent() -> None:
    """Run in the child before exec: on Linux, get SIGTERM when the test process dies, however it dies."""
    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


_spawner: queue.SimpleQueue[tuple[Callable[[], Any], queue.SimpleQueue[tuple[Any, BaseException | None]]]] | None = None
_spawner_lock = threading.Lock()


def _forget_spawner() -> None:
    global _spawner
    _spawner = None  # a forked child has none of its parent's threads


os.register_at_fork(after_in_child=_forget_spawner)


def _spawn(args: list[str], **kwargs: Any) -> subprocess.Popen[Any]:
    """``subprocess.Popen(args, **kwargs)`` with :func:`_die_with_parent`, from a thread that lives as long as the
    process: Linux sends the death signal when the *thread* that started the child ends, and a clause's check runs
    on a worker thread that ends with it (:meth:`pytest_chatstore.engine.runner.Runner.host`)."""
    global _spawner
    if sys.platform.startswith("linux"):
        kwargs["preexec_fn"] = _die_with_parent

    def popen() -> subprocess.Popen[Any]:
        process = subprocess.Popen(args, **kwargs)
        KIT_PROCESSES.add(process.pid)
        return process

    if threading.current_thread() is threading.main_thread():
        return popen()
    with _spawner_lock:
        if _spawner is None:
            _spawner = queue.SimpleQueue()
            threading.Thread(target=_serve_spawns, args=(_spawner,), name="chatstore-spawner", daemon=True).start()
    answer: queue.SimpleQueue[tuple[Any, BaseException | None]] = queue.SimpleQueue()
    _spawner.put((popen, answer))
    process, error = answer.get()
    if error is not None:
        raise error
    return process  # type: ignore[no-any-return]


def _serve_spawns(jobs: queue.SimpleQueue[tuple[Callable[[], Any], queue.SimpleQueue[Any]]]) -> None:
    while True:
        job, answer = jobs.get()
        try:
            answer.put((job(), None))
        except BaseException as exc:  # noqa: BLE001 - handed to the caller
            answer.put((None, exc))


WORKDIR_PREFIX = "pytest-chatstore-redis-"
"""A kit-started server's directory in the temporary directory: the prefix, the kit's process ID, a dash."""


def _sweep_workdirs() -> None:
    """Remove the directories of kit-started servers whose kit process is gone (it died without running its exit
    handlers: killed, or ``os._exit`` called by a store). Only this user's directories named by
    :data:`WORKDIR_PREFIX` and a process ID that no longer runs; a reused ID keeps its directory (the safe side)."""
    for path in Path(tempfile.gettempdir()).glob(f"{WORKDIR_PREFIX}*-*"):
        pid = path.name[len(WORKDIR_PREFIX) :].split("-", 1)[0]
        if not pid.isdigit() or not path.is_dir() or path.stat().st_uid != os.getuid():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            shutil.rmtree(path, ignore_errors=True)
        except OSError:
            continue  # alive, another user's


def _binary(url: str | None, worker: int) -> RedisServer:
    exe = shutil.which("redis-server")
    if exe is None:
        raise RedisUnavailable("no redis-server on PATH")
    _sweep_workdirs()
    workdir = tempfile.mkdtemp(prefix=f"{WORKDIR_PREFIX}{os.getpid()}-")
    port = _free_port()
    args = [exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", workdir]

    def start() -> subprocess.Popen[bytes]:
        return _spawn(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    running = [start()]

    def end(process: subprocess.Popen[bytes]) -> None:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(5)
            except subprocess.TimeoutExpired:
                process.kill()
        if process.stderr is not None:
            process.stderr.close()

    def stop() -> None:
        end(running[0])
        shutil.rmtree(workdir, ignore_errors=True)

    def restart() -> None:
        """Stop the server with its data saved (``SHUTDOWN SAVE``) and start it again on the same port: it loads
        what it saved, and every client's connection is gone."""
        with contextlib.suppress(Exception):  # the server closes the connection as it goes
            server.client().shutdown(save=True)
        try:
            running[0].wait(10)
        except subprocess.TimeoutExpired:
            end(running[0])
            raise RedisUnavailable("redis-server did not shut down for a restart within 10 s") from None
        end(running[0])
        running[0] = start()
        server._client = None
        _wait_for(server, running[0], stop)

    atexit.register(stop)
    version = subprocess.run([exe, "--version"], capture_output=True, text=True).stdout.split(" v=")[-1].split()[0]
    server = RedisServer(
        f"redis://127.0.0.1:{port}/0",
        "binary",
        f"redis-server {version} on 127.0.0.1:{port} (started by the kit)",
        True,
        stop,
        restart=restart,
    )
    _wait_for(server, running[0], stop)
    return server


def _wait_for(server: RedisServer, process: subprocess.Popen[bytes], stop: Callable[[], None]) -> None:
    """Until the starting ``process`` answers a PING (10 s at most; else it is stopped and the error says why)."""
    deadline = time.monotonic() + 10
    while True:
        try:
            server.client().ping()
            return
        except Exception as exc:  # noqa: BLE001 - not up yet
            if process.poll() is not None or time.monotonic() > deadline:
                err = process.stderr.read().decode(errors="replace")[-500:] if process.stderr else ""
                stop()
                raise RedisUnavailable(f"redis-server did not start ({exc}) {err}") from None
            server._client = None
            time.sleep(0.02)  # polling a starting process: not a test wait


_FAKE_SERVER = """
import select
import socket
from fakeredis import TcpFakeServer


class PatientWriter:
    # fakeredis writes a reply to its non-blocking socket in one go and drops the connection
    # when the socket buffer is full: a reply of a few MB (SCL-003) failed at random. This
    # writes it all, waiting while the client drains the buffer.
    def __init__(self, sock):
        self.sock = sock

    def write(self, data):
        view = memoryview(data)
        while view:
            try:
                sent = self.sock.send(view)
            except BlockingIOError:
                select.select([], [self.sock], [], 1.0)
                continue
            view = view[sent:]

    def flush(self):
        pass


class Server(TcpFakeServer):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        base = self.RequestHandlerClass

        class Handler(base):
            def setup(self):
                super().setup()
                writer = getattr(self, "writer", None)
                if writer is not None and hasattr(writer, "writer"):
                    writer.writer = PatientWriter(self.connection)

        self.RequestHandlerClass = Handler

    def get_request(self):
        # fakeredis answers a transaction in several small writes: without NODELAY each
        # MULTI/EXEC waits ~40 ms for a delayed ACK.
        conn, addr = super().get_request()
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return conn, addr

server = Server(("127.0.0.1", 0), server_type="redis")
print(server.server_address[1], flush=True)
server.serve_forever()
"""


def _fakeredis(url: str | None, worker: int) -> RedisServer:
    if importlib.util.find_spec("fakeredis") is None:  # looked up, not imported: it runs in its own process
        raise RedisUnavailable("fakeredis is not installed (pip install 'pytest-chatstore[redis]')")
    # Its own process: a server thread in the test process would fight the tests for the GIL.
    # Its errors go to a file (a pipe nobody reads would fill up and stall it).
    log = tempfile.NamedTemporaryFile(prefix="pytest-chatstore-fakeredis-", suffix=".log", delete=False)  # noqa: SIM115
    process = _spawn([sys.executable, "-c", _FAKE_SERVER], stdout=subprocess.PIPE, stderr=log, text=True)
    line = process.stdout.readline() if process.stdout else ""
    if not line.strip().isdigit():
        process.kill()
        raise RedisUnavailable(f"fakeredis did not start: {Path(log.name).read_text()[-500:]}")
    port = int(line)

    def stop() -> None:
        process.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(5)
        if process.poll() is None:
            process.kill()
        if process.stdout is not None:
            process.stdout.close()
        log.close()

    atexit.register(stop)
    return RedisServer(
        f"redis://127.0.0.1:{port}/0",
        "fakeredis",
        f"fakeredis over TCP on 127.0.0.1:{port} (no real server)",
        True,
        stop,
    )


_PROVIDERS: dict[str, Callable[[str | None, int], RedisServer]] = {
    "url": _from_url,
    "docker": _docker,
    "binary": _binary,
    "fakeredis": _fakeredis,
}
