"""A pytest plugin loaded before anything else (`-p virtool_site.pytest_plugin` in pytest.ini).

Under pytest-xdist the suite runs in several processes at once. pytest-django gives each its
own test database; this gives each its own Redis database, because the suite flushes its
cache database between tests and a flush must never reach another process's task queue or
counters. It has to run before pytest-django reads Django's settings, which a conftest is too
late for. Subprocesses the tests start (Celery workers, web servers) inherit the adjusted
`REDIS_URL` and never load this plugin, so they use the same database as their test.
"""

import os
from urllib.parse import urlsplit, urlunsplit


def redis_url_for_worker(url: str, worker: str) -> str:
    """`redis://host:port/N` → database N + 1 + the worker's number (gw0 → N + 1, gw1 → N + 2)."""
    parts = urlsplit(url)
    base = int(parts.path.strip("/") or 0)
    number = int(worker.removeprefix("gw"))
    return urlunsplit(parts._replace(path=f"/{base + 1 + number}"))


_worker = os.environ.get("PYTEST_XDIST_WORKER", "")
if _worker and os.environ.get("REDIS_URL"):
    os.environ["REDIS_URL"] = redis_url_for_worker(os.environ["REDIS_URL"], _worker)
