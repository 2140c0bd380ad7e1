"""Wall time to a verdict for slow, hanging, crashing and leaking stores (on demand; not part of CI).

    python benchmarks/hostile_runs.py             # every row below, default settings, one run each
    python benchmarks/hostile_runs.py --only hang # rows whose name contains "hang"
    python benchmarks/hostile_runs.py --three     # stores that end the process: three runs in a row each

Each row is a fresh ``pytest`` process on a store of ``tests/hostile_stores.py``
with the whole suite and the default profile, as a new user runs it. The table
gives the wall time, pytest's exit status, whether the JSON report was written
and what it says, and whether any process of the run was still alive afterwards.
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


def run(store: str, extra: list[str], where: str | None = None) -> tuple[float, int, str, bool]:
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report.json"
        args = [sys.executable, "-m", "pytest", "-q", f"--chatstore=tests.hostile_stores:{store}"]
        args += ["-p", "no:cacheprovider"] if where is None else ["-o", f"cache_dir={where}/.cache"]
        args += ["--chatstore-only", f"--chatstore-report={report}", *extra]
        start = time.perf_counter()
        process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
        process.communicate(timeout=1800)
        elapsed = time.perf_counter() - start
        alive = subprocess.run(["pgrep", "-s", str(process.pid)], capture_output=True).returncode == 0
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
    print("| store | wall time | exit | report | left running |")
    print("| --- | --- | --- | --- | --- |")
    if options.three:
        for label, store, extra in THREE_RUNS:
            if options.only not in label:
                continue
            with tempfile.TemporaryDirectory() as where:
                for attempt in (1, 2, 3):
                    elapsed, status, verdict, alive = run(store, extra, where)
                    print(f"| {label}, run {attempt} | {elapsed:.1f} s | {status} | {verdict} | {alive} |", flush=True)
        return
    for label, store, extra in ROWS:
        if options.only not in label:
            continue
        elapsed, status, verdict, alive = run(store, extra)
        print(f"| {label} | {elapsed:.1f} s | {status} | {verdict} | {'yes' if alive else 'nothing'} |", flush=True)


if __name__ == "__main__":
    main()
