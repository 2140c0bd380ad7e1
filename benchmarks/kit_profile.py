"""Where the time of a run against a fast store goes: the kit's own overhead per store call (on demand; not CI).

    pip install yappi
    python benchmarks/kit_profile.py                  # in-memory reference store, ci profile, top 25 entries
    python benchmarks/kit_profile.py --top 40 --store reference_impls.redis:RedisChatStore

Runs the whole suite once in this process under yappi (CPU time, every thread: a clause's
body runs on its runner's worker thread, see ``Runner.host``), then prints the entries with
the most time of their own, and the share of the CPU time spent in each part: the store,
Hypothesis, the kit, the thread hand-over. yappi slows the run several times over: the
shares are what to compare, not the seconds. ``benchmarks/suite_time.py`` gives wall times.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections import Counter

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep


def part(module: str) -> str:
    """Which part of a run a function's file belongs to."""
    if "reference_impls" in module or "fakeredis" in module or f"{os.sep}redis{os.sep}" in module:
        return "the store (and its client)"
    if "hypothesis" in module:
        return "Hypothesis (generation, shrinking, the state machine engine)"
    if "pytest_chatstore" in module:
        return "the kit (driver, runner, model, checks)"
    if module.startswith("_queue") or "queue.py" in module or "threading.py" in module:
        return "handing calls between threads"
    return "other (pytest, the standard library, copies)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--store", default="reference_impls.memory:InMemoryChatStore")
    parser.add_argument("--top", type=int, default=25)
    options = parser.parse_args()
    import pytest
    import yappi

    yappi.set_clock_type("cpu")
    with tempfile.TemporaryDirectory() as empty:  # nothing else to collect there
        os.chdir(empty)
        yappi.start()
        args = ["-q", "-p", "no:cacheprovider", f"--chatstore={options.store}", "--chatstore-only"]
        args += ["--chatstore-hypothesis=ci", *(["--chatstore-require-real-redis"] if "redis" in options.store else [])]
        code = pytest.main(args)
        yappi.stop()
    if code != 0:
        sys.exit(f"pytest exited {code}")
    stats = sorted(yappi.get_func_stats(), key=lambda s: s.tsub, reverse=True)
    total = sum(s.tsub for s in stats)
    shares: Counter[str] = Counter()
    for s in stats:
        shares[part(s.module)] += s.tsub
    print(f"\nCPU time profiled: {total:.1f} s (yappi's overhead included)\n")
    for name, seconds in shares.most_common():
        print(f"  {100 * seconds / total:5.1f}%  {name}")
    print(f"\ntop {options.top} entries by own time:\n")
    print(f"  {'own %':>6}  {'calls':>9}  function")
    for s in stats[: options.top]:
        where = s.module.split("site-packages/")[-1].replace(ROOT, "")
        print(f"  {100 * s.tsub / total:5.1f}%  {s.ncall:>9}  {s.name} ({where}:{s.lineno})")


if __name__ == "__main__":
    main()
