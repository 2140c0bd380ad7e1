"""Would overlapping calls speed the kit up on the Redis reference store? (On demand; not part of CI.)

    python benchmarks/redis_overlap.py              # a kit-started redis-server, 5 rounds, 1 to 16 threads

Issue 23 overlaps independent work on latency-bound stores: a store whose calls *wait* gains nearly
linearly from running them side by side. This measures whether the Redis reference store on this
machine is such a store: ``add_message`` on 50 conversations (a packed batch's step), one thread
after another versus spread over a pool of threads, in microseconds per call (median of the rounds).
On a local server on a small machine the client's and the server's CPU is the cost, not the round
trip's wait, and more threads only add contention; on a server across a network the same run shows
the gain.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pytest_chatstore.servers.redis import provision
from pytest_chatstore.spec.contract import ChatMessage
from reference_impls.redis import RedisChatStore

KEYS = [f"p{n:02d}" for n in range(50)]
STEPS = 40


def per_call(store: RedisChatStore, threads: int) -> float:
    """Microseconds per ``add_message`` over ``STEPS`` steps of one append on each of ``KEYS``."""
    message = ChatMessage("user", "x")

    def append(key: str) -> None:
        store.add_message(key, message)

    start = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        for _ in range(STEPS):
            if threads == 1:
                for key in KEYS:
                    append(key)
            else:
                list(pool.map(append, KEYS))
    elapsed = time.perf_counter() - start
    for key in KEYS:
        store.delete_messages(key)
    return elapsed / (STEPS * len(KEYS)) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--url", help="a Redis URL of your own (an empty database) instead of a kit-started server")
    args = parser.parse_args()
    server = None if args.url else provision("binary")
    store = RedisChatStore(args.url or server.url, prefix="overlap:")  # type: ignore[union-attr]
    print(f"Redis: {server.description if server else args.url}")
    for threads in (1, 2, 4, 8, 16):
        rounds = [per_call(store, threads) for _ in range(args.rounds)]
        print(f"{threads:>2} thread(s): {statistics.median(rounds):7.1f} us per call")
    store.close()
    if server is not None:
        server.close()


if __name__ == "__main__":
    main()
