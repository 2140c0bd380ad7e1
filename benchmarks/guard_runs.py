"""The guard against a user's Redis server holding other data (on demand; not part of CI).

    python benchmarks/guard_runs.py            # every row: whole suite, default profile, one run each
    python benchmarks/guard_runs.py --quick    # three clauses per row

A local ``redis-server`` stands for the user's server: databases 0 and 3 hold data that is not the kit's
(1,000 keys and one hash). Each row is a fresh ``pytest`` process with ``--chatstore-redis-url=.../15``, as a
user runs it; the table gives the wall time, the exit status, the guard's finding, and whether databases 0
and 3 still hold exactly what they held and database 15 is empty afterwards.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from pytest_chatstore.servers.redis import provision

ROWS: list[tuple[str, str, list[str]]] = [
    ("reference store", "reference_impls.redis:RedisChatStore", []),
    ("reference store, isolated", "reference_impls.redis:RedisChatStore", ["--chatstore-isolate"]),
    ("FLUSHALL on close", "tests.hostile_redis:FlushesAllOnClose", []),
    ("FLUSHALL on close, isolated", "tests.hostile_redis:FlushesAllOnClose", ["--chatstore-isolate"]),
    ("writes to database 0 whatever the URL says", "tests.hostile_redis:IgnoresDatabaseIndex", []),
]


def fill(client: Any) -> None:
    """Someone else's data: 1,000 strings in database 0 and a hash in database 3."""
    zero, three = client(0), client(3)
    zero.flushdb()
    three.flushdb()
    zero.mset({f"app:item:{n}": f"value {n}" for n in range(1000)})
    three.hset("session:42", mapping={"user": "ada", "turns": "7"})


def intact(client: Any) -> bool:
    zero, three = client(0), client(3)
    return bool(
        zero.dbsize() == 1000
        and zero.get("app:item:999") == b"value 999"
        and three.hgetall("session:42") == {b"user": b"ada", b"turns": b"7"}
        and client(15).dbsize() == 0
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="three clauses per row instead of the whole suite")
    options = parser.parse_args()
    server = provision("binary")
    base = server.url.rsplit("/", 1)[0]
    import redis

    def client(db: int) -> Any:
        return redis.Redis.from_url(f"{base}/{db}")

    print("| store | wall time | exit | guard | others' data intact, kit's database empty |")
    print("| --- | --- | --- | --- | --- |")
    try:
        for label, target, extra in ROWS:
            fill(client)
            client(15).flushdb()
            with tempfile.TemporaryDirectory() as tmp:
                report = Path(tmp) / "report.json"
                args = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--chatstore={target}"]
                args += ["--chatstore-only", f"--chatstore-redis-url={base}/15", f"--chatstore-report={report}"]
                args += ["--chatstore-clauses=ORD-001,DEL-001,KEY-001"] if options.quick else []
                start = time.perf_counter()
                done = subprocess.run([*args, *extra], capture_output=True, text=True, timeout=1800)
                elapsed = time.perf_counter() - start
                guard = json.loads(report.read_text())["guard"] if report.exists() else ["no report"]
            shown = "; ".join(guard) or "nothing changed"
            print(f"| {label} | {elapsed:.1f} s | {done.returncode} | {shown} | {intact(client)} |", flush=True)
            client(0).flushdb()
            client(3).flushdb()
    finally:
        server.close()


if __name__ == "__main__":
    main()
