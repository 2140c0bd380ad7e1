"""Wall time of the conformance suite, median of N runs (on demand; not part of CI).

    python benchmarks/suite_time.py                 # default profile, whole suite, 5 runs, in-memory store
    python benchmarks/suite_time.py --store redis   # the Redis reference store (a local redis-server)
    python benchmarks/suite_time.py --store both    # one after the other
    python benchmarks/suite_time.py --ttl           # the TTL clauses: clock mode vs real-time mode
    python benchmarks/suite_time.py --runs 3 --profile ci
    python benchmarks/suite_time.py --no-bytecode   # as on a machine with PYTHONDONTWRITEBYTECODE=1

Each run is a fresh ``pytest`` process against a reference store, so the figure
includes interpreter start-up and collection, as a user sees it. The Redis store
runs against a real server (``--chatstore-require-real-redis``).

Bytecode: a user's second run finds the compiled modules, and pytest's rewritten ones
(pytest rewrites the asserts of every module of a distribution that has a pytest plugin:
all of Hypothesis, all of pytest-chatstore), in ``__pycache__``. So by default each
store gets one run first that is not counted, with ``PYTHONDONTWRITEBYTECODE`` unset,
and the figures are of warm runs. ``--no-bytecode`` keeps the environment as it is
(where ``PYTHONDONTWRITEBYTECODE=1``, as on this project's machines, every run parses
and rewrites them again: about 1.5 s more).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time

REFERENCE = "reference_impls.memory:InMemoryChatStore"
REDIS_REFERENCE = "reference_impls.redis:RedisChatStore"
STORES = {"memory": [REFERENCE], "redis": [REDIS_REFERENCE], "both": [REFERENCE, REDIS_REFERENCE]}
REAL_TIME_REFERENCE = "tests.broken_stores:realtime_InMemoryChatStore"  # same store, no clock parameter


ENVIRONMENT = dict(os.environ)
"""The runs' environment: this one, less ``PYTHONDONTWRITEBYTECODE`` unless ``--no-bytecode``."""


def wall_time(args: list[str]) -> float:
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args],
        capture_output=True,
        text=True,
        env=ENVIRONMENT,
    )
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"pytest failed ({done.returncode}):\n{done.stdout[-2000:]}")
    return elapsed


def report(label: str, args: list[str], runs: int) -> None:
    if "PYTHONDONTWRITEBYTECODE" not in ENVIRONMENT:
        wall_time(args)  # writes the bytecode caches: not counted
    times = [wall_time(args) for _ in range(runs)]
    print(f"{label:<40} median {statistics.median(times):6.2f} s   runs: {', '.join(f'{t:.2f}' for t in times)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--profile", default="default")
    parser.add_argument("--ttl", action="store_true", help="time the TTL clauses in clock and real-time mode")
    parser.add_argument("--store", choices=list(STORES), default="memory", help="which reference store(s) to time")
    parser.add_argument("--no-bytecode", action="store_true", help="keep PYTHONDONTWRITEBYTECODE as it is set")
    options = parser.parse_args()
    if not options.no_bytecode:
        ENVIRONMENT.pop("PYTHONDONTWRITEBYTECODE", None)
    cached = "PYTHONDONTWRITEBYTECODE" not in ENVIRONMENT
    print(
        f"bytecode caches: {'warm (one run first, not counted)' if cached else 'not written (PYTHONDONTWRITEBYTECODE)'}"
    )
    common = ["--chatstore-only", f"--chatstore-hypothesis={options.profile}"]
    if options.ttl:
        report("TTL clauses, clock mode", [f"--chatstore={REFERENCE}", *common, "-k", "TTL"], options.runs)
        report(
            "TTL clauses, real-time mode", [f"--chatstore={REAL_TIME_REFERENCE}", *common, "-k", "TTL"], options.runs
        )
        report(
            "collection only (the fixed cost)", [f"--chatstore={REFERENCE}", *common, "-k", "TTL", "--co"], options.runs
        )
    else:
        for target in STORES[options.store]:
            extra = ["--chatstore-require-real-redis"] if target == REDIS_REFERENCE else []
            name = target.rsplit(":", 1)[1]
            report(f"{name}, {options.profile} profile", [f"--chatstore={target}", *common, *extra], options.runs)


if __name__ == "__main__":
    main()
