"""Queueing Celery tasks from request-time services.

`task_enqueue("app.task_name", *args, process_id=..., on_error=...)` is called inside the
service's transaction, where `transaction.on_commit(lambda: task.delay(...))` used to be.
Services name the task instead of importing it, so dependencies run one way: tasks import
services, services never import tasks (the name is resolved in Celery's registry, which
imports every app's tasks module the first time a name is missing).

1. It checks at once that the broker answers (a ping with a short timeout). When it does not,
   it raises ServiceUnavailable("Task queue unavailable"): the transaction rolls back, the
   client gets a 503, and nothing is left waiting for a task that was never sent.
2. It publishes the task when the transaction commits, as before.
3. Should the broker go away between the check and the commit, the publish error is caught
   (the data is committed by then): the process named by `process_id` is failed with
   "Task queue unavailable" and `on_error(error)` runs, so nothing waits forever silently.

With tasks running in-process (no broker, or `task_always_eager` in tests) there is nothing
to check and the task runs on commit exactly as `task.delay` would.
"""

import logging
import threading

from django.db import transaction
from kombu.exceptions import OperationalError as BrokerError

from virtool_site.errors import ServiceUnavailable

logger = logging.getLogger(__name__)

TASK_QUEUE_UNAVAILABLE = "Task queue unavailable"
#: Seconds the broker has to answer the check; a request waits at most about this long.
BROKER_CHECK_TIMEOUT = 1.0

_clients: dict[str, object] = {}
_clients_lock = threading.Lock()


def _redis_client(url: str):
    """One client (and connection pool) per broker URL, so a check reuses its connection."""
    import redis

    with _clients_lock:
        client = _clients.get(url)
        if client is None:
            client = redis.Redis.from_url(
                url, socket_connect_timeout=BROKER_CHECK_TIMEOUT, socket_timeout=BROKER_CHECK_TIMEOUT
            )
            _clients[url] = client
        return client


def broker_available(app=None) -> bool:
    """Whether the broker answers now (True when tasks run in-process)."""
    from virtool_site.celery import app as default_app

    app = app or default_app
    if app.conf.task_always_eager:
        return True
    url = str(app.conf.broker_url or "")
    if url.startswith("memory://"):
        return True
    try:
        if url.startswith(("redis://", "rediss://", "unix://")):
            _redis_client(url).ping()
        else:
            with app.connection_for_write() as connection:
                connection.ensure_connection(max_retries=1, interval_start=0, interval_step=0, timeout=BROKER_CHECK_TIMEOUT)
    except Exception as error:  # any failure to reach the broker means the same thing here
        logger.warning("task queue unavailable: %s: %s", type(error).__name__, error)
        return False
    return True


def broker_check(app=None) -> None:
    """Raise ServiceUnavailable("Task queue unavailable") when the broker does not answer."""
    if not broker_available(app):
        raise ServiceUnavailable(TASK_QUEUE_UNAVAILABLE)


def task_get(task):
    """The registered task named `task` (a task object is returned as it is).

    Raises celery.exceptions.NotRegistered (a KeyError) for a name no app registers.
    """
    if not isinstance(task, str):
        return task
    from virtool_site.celery import app

    registry = app.tasks
    if task not in registry:
        # The first lookup in a process that has not imported the apps' tasks modules (a web
        # process) imports them all: the autodiscovery a worker does when it starts.
        app.autodiscover_tasks(force=True)
    return registry[task]


def task_enqueue(task, *args, process_id: str | None = None, on_error=None) -> None:
    """Check the broker now and publish `task(*args)` when the current transaction commits.

    `task` is a registered task's name ("refs.delete_reference") or the task itself.
    Raises ServiceUnavailable when the broker is down (call it inside the transaction that
    creates what the task works on, so that rolls back). See the module docstring for what
    happens if publishing fails after the commit.
    """
    task = task_get(task)
    broker_check(task.app)

    def publish():
        if task.app.conf.task_always_eager:
            task.delay(*args)
            return
        try:
            task.apply_async(args)
        except BrokerError as error:
            logger.error("could not queue %s%r after commit: %s", task.name, args, error)
            _publish_failed(process_id, on_error, error)

    transaction.on_commit(publish)


def _publish_failed(process_id, on_error, error) -> None:
    if process_id:
        from virtool_site.services import process_fail

        process_fail(process_id=process_id, error={"id": "task_queue_unavailable", "message": TASK_QUEUE_UNAVAILABLE})
    if on_error is not None:
        try:
            on_error(error)
        except Exception:
            logger.exception("handling the failed publication of a task failed")
