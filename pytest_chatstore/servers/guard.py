"""The guard: a fingerprint of every database of a Redis server except the kit's, compared as the run goes.

A run against a user's server must never change data that is not the kit's. The kit itself only writes to
and deletes from its own database; a store under test may not be so careful (``FLUSHALL`` on close, a client
that ignores the URL's database index). So, before the first clause, the kit reads a fingerprint of every
other database it can see, and compares after each clause (after each isolated child) and at the end:

- the number of keys in each database (``INFO keyspace``: exact, one round trip);
- for up to :data:`SAMPLE` keys of each database, their names and a digest of their values (``DUMP``):
  a value changed in place among the sampled keys is seen; one among the others is not.

What cannot be guarded, and is said so in the docs: a change that leaves every count the same and touches
no sampled key; databases past the server's ``databases`` setting; a server whose ``INFO`` or ``DUMP`` is
disabled (then the report says the guard could not read it); writes by another client of the same server
during the run, which look the same as the store's (run against a server nobody else writes to).
Reading is bounded by :data:`READ_LIMIT` seconds per fingerprint.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field
from typing import Any

SAMPLE = 100
"""Keys per database whose values are digested."""
DATABASES = 16
"""Databases counted one by one where ``INFO keyspace`` is not served (Redis's default number)."""
READ_LIMIT = 5.0
"""Seconds one fingerprint may take; past them, what was not read is said to be unguarded."""


@dataclass(frozen=True)
class Fingerprint:
    """What the other databases of a server held at one moment."""

    counts: dict[int, int]
    """Database index -> number of keys, for every non-empty database except the kit's."""
    digests: dict[int, dict[bytes, str]] = field(default_factory=dict)
    """Database index -> sampled key -> digest of its value (``""``: the key had expired or gone when read)."""
    unread: str | None = None
    """Why part of the server could not be read (then it is not guarded), or None."""


def fingerprint(client: Any, kit_databases: frozenset[int], like: Fingerprint | None = None) -> Fingerprint:
    """The fingerprint of every database ``client``'s server holds, except ``kit_databases``; with ``like``,
    the values of the keys ``like`` sampled are digested again (to compare), instead of a new sample."""
    deadline = time.monotonic() + READ_LIMIT
    try:
        counts = _counts(client, kit_databases)
    except Exception as exc:  # noqa: BLE001 - a managed server may refuse both: then nothing is guarded
        return Fingerprint({}, unread=f"the key counts could not be read ({type(exc).__name__}: {exc})")
    digests: dict[int, dict[bytes, str]] = {}
    unread = None
    for db in sorted(like.digests if like is not None else counts):
        if time.monotonic() > deadline:
            unread = f"values of database {db} and later were not read within {READ_LIMIT:g} s"
            break
        try:
            digests[db] = _digests(client, db, list(like.digests[db]) if like is not None else None)
        except Exception as exc:  # noqa: BLE001 - said in the report, not fatal
            unread = f"database {db} could not be read ({type(exc).__name__}: {exc})"
    return Fingerprint(counts, digests, unread)


def _counts(client: Any, kit_databases: frozenset[int]) -> dict[int, int]:
    """Keys per non-empty database but the kit's: from ``INFO keyspace``, or ``DBSIZE`` in each of the
    :data:`DATABASES` first databases where INFO is not served (fakeredis, some proxies)."""
    try:
        keyspace = client.info("keyspace")
    except Exception:  # noqa: BLE001 - then one DBSIZE per database
        sizes = {db: _in(client, db, lambda other: other.dbsize()) for db in range(DATABASES)}
    else:
        sizes = {int(n.removeprefix("db")): int(i.get("keys", 0)) for n, i in keyspace.items() if n.startswith("db")}
    return {db: n for db, n in sizes.items() if n and db not in kit_databases}


def _in(client: Any, db: int, work: Any) -> Any:
    """``work(c)`` with ``c`` a client like ``client`` on database ``db``."""
    pool = client.connection_pool
    other = client.__class__(
        connection_pool=pool.__class__(connection_class=pool.connection_class, **{**pool.connection_kwargs, "db": db})
    )
    try:
        return work(other)
    finally:
        other.close()
        other.connection_pool.disconnect()


def _digests(client: Any, db: int, keys: list[bytes] | None) -> dict[bytes, str]:
    """Digests of ``keys``' values in database ``db`` (None: of a sample of its keys)."""

    def read(other: Any) -> dict[bytes, str]:
        chosen = keys
        if chosen is None:
            _, found = other.scan(0, count=SAMPLE)
            chosen = sorted(found)[:SAMPLE]
        pipe = other.pipeline(transaction=False)
        for key in chosen:
            pipe.dump(key)
        values = pipe.execute()
        return {k: hashlib.sha1(v).hexdigest() if v is not None else "" for k, v in zip(chosen, values, strict=True)}

    result: dict[bytes, str] = _in(client, db, read)
    return result


def changes(before: Fingerprint, after: Fingerprint) -> list[str]:
    """What changed between a fingerprint and one taken ``like`` it, one line per database; empty if nothing."""
    found = []
    for db in sorted(set(before.counts) | set(after.counts)):
        was, now = before.counts.get(db, 0), after.counts.get(db, 0)
        if now == 0 and was:
            found.append(f"database {db} was emptied ({_keys(was)} removed)")
            continue
        what = []
        if now > was:
            what.append(f"{_keys(now - was)} added")
        elif now < was:
            what.append(f"{_keys(was - now)} removed")
        read = after.digests.get(db)
        if read is not None:
            gone = [k for k, d in before.digests.get(db, {}).items() if d and not read.get(k)]
            changed = [k for k, d in before.digests.get(db, {}).items() if d and read.get(k) and read[k] != d]
            if gone and now >= was:
                what.append(f"{len(gone)} sampled key(s) deleted (e.g. {_name(gone[0])})")
            if changed:
                what.append(f"{len(changed)} sampled value(s) changed (e.g. {_name(changed[0])})")
        if what:
            found.append(f"database {db}: " + ", ".join(what))
    return found


def _keys(n: int) -> str:
    return "1 key" if n == 1 else f"{n:,} keys"


def _name(key: bytes) -> str:
    return repr(key.decode(errors="replace"))[:60]
