"""Per-key advisory locks (PostgreSQL), for work on one thing that must not run twice at once.

`advisory_lock(namespace, key)` serialises every holder of the same (namespace, key), e.g.
the bulk writers and the deletion of one reference. Outside a transaction it is a session
lock taken before the work's transaction begins, so that transaction's snapshot sees what an
earlier holder committed; it is released at the end, or with the connection if the worker
dies. Inside a transaction it is a transaction lock, released at the commit. Other databases
(the embedded SQLite) run one writer at a time and take no lock.
"""

import hashlib
import logging
from contextlib import contextmanager

from django.db import connection

logger = logging.getLogger(__name__)


def advisory_key(namespace: str, key: str) -> int:
    """The signed 64-bit lock number of (namespace, key)."""
    digest = hashlib.blake2b(f"{namespace}:{key}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


@contextmanager
def advisory_lock(namespace: str, key: str):
    """Hold the lock of (namespace, key) for the block (see the module docstring)."""
    if connection.vendor != "postgresql":
        yield
        return
    number = advisory_key(namespace, key)
    if connection.in_atomic_block:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [number])
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_lock(%s)", [number])
    try:
        yield
    finally:
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [number])
        except Exception:  # a lost connection has released the lock with it
            logger.warning("could not release the advisory lock %s:%s", namespace, key, exc_info=True)
