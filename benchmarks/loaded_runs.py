"""Consecutive derandomized runs on a deliberately busy machine: does any verdict flip? (On demand; not CI.)

    python benchmarks/loaded_runs.py              # 20 runs of each configuration, 2 busy loops per core
    python benchmarks/loaded_runs.py --runs 5 --loops 0
    python benchmarks/loaded_runs.py --runs 5 --only "ms per call"   # the latency stores: overlapped parts

Configurations: the in-memory reference store, the Redis reference store (real
``redis-server``), the TTL clauses in real-time mode (the in-memory store
without its clock), and correct stores at 2 ms and 20 ms per call (their split
checks run overlapped: a false alarm there would be the overlap's). Busy loops
(``while True: pass`` processes) are started before and stopped after. Prints, per configuration, how many runs passed,
failed or errored, how many TTL scenarios needed a retry, and the wall times.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import time

CONFIGURATIONS = {
    "InMemoryChatStore": ["--chatstore=reference_impls.memory:InMemoryChatStore"],
    "RedisChatStore": ["--chatstore=reference_impls.redis:RedisChatStore", "--chatstore-require-real-redis"],
    "TTL clauses, real time": ["--chatstore=tests.broken_stores:realtime_InMemoryChatStore", "--chatstore-clauses=ttl"],
    "2 ms per call": ["--chatstore=tests.hostile_stores:Latency2ms"],
    "20 ms per call": ["--chatstore=tests.hostile_stores:Latency20ms"],
}
RETRIED = re.compile(r"real time: (\d+) TTL scenario")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--loops", type=int, default=2, help="busy loops per core")
    parser.add_argument("--only", default="", help="configurations whose name contains this")
    options = parser.parse_args()
    loops = [
        subprocess.Popen([sys.executable, "-c", "while True: pass"])
        for _ in range(options.loops * (os.cpu_count() or 1))
    ]
    try:
        for name, args in CONFIGURATIONS.items():
            if options.only not in name:
                continue
            outcomes: dict[str, int] = {"passed": 0, "failed": 0}
            retries, times = 0, []
            for _ in range(options.runs):
                start = time.perf_counter()
                done = subprocess.run(
                    [
                        sys.executable,
                        "-m",
                        "pytest",
                        "-q",
                        "-p",
                        "no:cacheprovider",
                        "--chatstore-only",
                        "--chatstore-hypothesis=ci",
                        *args,
                    ],
                    capture_output=True,
                    text=True,
                )
                times.append(time.perf_counter() - start)
                outcomes["passed" if done.returncode == 0 else "failed"] += 1
                retries += sum(int(n) for n in RETRIED.findall(done.stdout))
                if done.returncode != 0:
                    print(done.stdout[-3000:], file=sys.stderr)
            print(
                f"{name:<24} {outcomes['passed']:>3} passed {outcomes['failed']:>3} failed or errored   "
                f"TTL scenarios retried: {retries:>3}   median {statistics.median(times):6.1f} s, "
                f"max {max(times):6.1f} s",
                flush=True,
            )
    finally:
        for loop in loops:
            loop.kill()
            loop.wait()


if __name__ == "__main__":
    main()
