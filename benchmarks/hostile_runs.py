"""Wall time to a verdict for slow, hanging, crashing and leaking stores (on demand; not part of CI).

    python benchmarks/hostile_runs.py             # every row below, default settings, one run each
    python benchmarks/hostile_runs.py --only hang # rows whose name contains "hang"
    python benchmarks/hostile_runs.py --three     # stores that end the process: three runs in a row each

Each row is a fresh ``pytest`` process on a store of ``tests/hostile_stores.py``
with the whole suite and the default profile, as a new user runs it. The table
gives the wall time, pytest's exit status, whether the JSON report was written
and what it says, the most processes the run had at once besides pytest (sampled twice
a second), and whether any process of the run was still alive afterwards.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROWS: list[tuple[str, str, list[str]]] = [
    ("2 ms per call", "Latency2ms", []),
    ("2 ms per call, no overlap (-threads)", "Latency2ms", ["--chatstore-capabilities=-threads"]),
    ("20 ms per call", "Latency20ms", []),
    ("20 ms per call, no overlap (-threads)", "Latency20ms", ["--chatstore-capabilities=-threads"]),
    ("hangs after 50 calls (1 s limit)", "HangsAfter50", ["--chatstore-timeout=1"]),
    ("SystemExit from a method", "RaisesSystemExit", []),
    ("BaseException from a method", "RaisesBaseException", []),
    ("os._exit, isolated", "ExitsInDelete", ["--chatstore-isolate"]),
    ("segfault, isolated", "SegfaultsInDelete", ["--chatstore-isolate"]),
    ("leaks a non-daemon thread, isolated", "LeaksThread", ["--chatstore-isolate"]),
    ("leaks a non-daemon thread, not isolated", "LeaksThread", []),
    ("starts a helper process with every store", "StartsHelperEachStore", []),
    ("constructor raises after 100 stores", "RefusesAfter100Stores", []),
    ("constructor hangs after 100 stores (1 s limit)", "HangsAfter100Stores", ["--chatstore-timeout=1"]),
]

THREE_RUNS: list[tuple[str, str, list[str]]] = [
    ("signal.alarm(1) in delete_message", "AlarmInDelete", []),
    ("signal.alarm(1) in delete_message, isolated", "AlarmInDelete", ["--chatstore-isolate"]),
    ("os._exit from a timer 0.2 s after delete_message", "ExitsSoonAfterDelete", []),
    ("os._exit from a timer 0.2 s after delete_message, isolated", "ExitsSoonAfterDelete", ["--chatstore-isolate"]),
    ("os._exit from a timer 1 s after close", "ExitsAfterClose", []),
    ("os._exit from a timer 1 s after close, isolated", "ExitsAfterClose", ["--chatstore-isolate"]),
]
"""Stores that end the process after a call returned: run three times in a row in one directory (pytest's
cache kept, so a death isolates the next run, as a CI job that is retried): no run may exit 0."""


PEAK = [0]
"""The most processes a run had at once besides pytest itself (helpers, children), sampled twice a second."""


def in_session(session: int) -> list[int]:
    """Processes of ``session`` still running (not zombies), from ``/proc``."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if fields[0] != "Z" and int(fields[3]) == session:
            found.append(int(entry.name))
    return found


def run(store: str, extra: list[str], where: str | None = None) -> tuple[float, int, str, bool]:
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report.json"
        args = [sys.executable, "-m", "pytest", "-q", f"--chatstore=tests.hostile_stores:{store}"]
        args += ["-p", "no:cacheprovider"] if where is None else ["-o", f"cache_dir={where}/.cache"]
        args += ["--chatstore-only", f"--chatstore-report={report}", *extra]
        start = time.perf_counter()
        log = Path(tmp) / "output.txt"
        with log.open("wb") as output:
            process = subprocess.Popen(args, stdout=output, stderr=subprocess.STDOUT, start_new_session=True)
            while process.poll() is None and time.perf_counter() - start < 1800:
                PEAK[0] = max(PEAK[0], len(in_session(process.pid)) - 1)  # the run's processes, pytest's own left out
                time.sleep(0.5)
        elapsed = time.perf_counter() - start
        alive = bool(in_session(process.pid))
        if not report.exists():
            return elapsed, process.returncode, "no report", alive
        data = json.loads(report.read_text())
        if not data["targets"]:  # the run died before any clause finished: the report says it never finished
            return elapsed, process.returncode, f"gate {data['gate']}: {data['stopped']}", alive
        target = data["targets"][0]
        counts = ", ".join(f"{n} {s}" for s, n in target["counts"].items())
        spent = target["budget"]
        evidence = f"{spent['calls']:,} calls, {len(spent['reduced'])} reduced, {spent['concurrency']} at once"
        return elapsed, process.returncode, f"gate {data['gate']}: {counts}; {evidence}", alive


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--only", default="")
    parser.add_argument("--three", action="store_true", help="the stores that end the process, 3 runs each")
    options = parser.parse_args()
    if options.three:
        print("| store | wall time | exit | report | left running |")
        print("| --- | --- | --- | --- | --- |")
        for label, store, extra in THREE_RUNS:
            if options.only not in label:
                continue
            with tempfile.TemporaryDirectory() as where:
                for attempt in (1, 2, 3):
                    elapsed, status, verdict, alive = run(store, extra, where)
                    print(f"| {label}, run {attempt} | {elapsed:.1f} s | {status} | {verdict} | {alive} |", flush=True)
        return
    print("| store | wall time | exit | report | most processes at once | left running |")
    print("| --- | --- | --- | --- | --- | --- |")
    for label, store, extra in ROWS:
        if options.only not in label:
            continue
        PEAK[0] = 0
        elapsed, status, verdict, alive = run(store, extra)
        left = "yes" if alive else "nothing"
        print(f"| {label} | {elapsed:.1f} s | {status} | {verdict} | {PEAK[0]} | {left} |", flush=True)


if __name__ == "__main__":
    main()
