"""The Celery app: `celery -A virtool_site worker`.

The request id of the HTTP request that queued a task travels in the task headers and is set
as the logging context while the task runs, so a request and the work it started share an id.

Tasks are acknowledged late, so a task whose worker dies is delivered again. With the Redis
broker, kombu keeps each delivered, unacknowledged message in the `unacked` hash and its
delivery time in the `unacked_index` sorted set; every worker sweeps that set every few
seconds (and once when it starts) and puts back on its queue each message older than the
visibility timeout. The timeout is short (settings.CELERY_VISIBILITY_TIMEOUT) so that a dead
worker's tasks are taken over within a minute or so, and `UnackedHeartbeat`, a thread of every
worker, keeps a live worker's tasks its own however long they run: it sets the delivery time
of each task the worker holds (running, reserved, or waiting for its ETA) to now every
CELERY_UNACKED_HEARTBEAT_SECONDS. A dead worker's heartbeat stops, and its tasks age out.
"""

import logging
import os
import threading
import time

from celery import Celery
from celery.signals import before_task_publish, task_postrun, task_prerun, worker_ready, worker_shutdown

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "virtool_site.settings")

app = Celery("virtool_site")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

_tokens = {}


@before_task_publish.connect
def _attach_request_id(headers=None, **kwargs):
    from virtool_site.middleware import current_request_id

    request_id = current_request_id()
    if headers is not None and request_id and "request_id" not in headers:
        headers["request_id"] = request_id


@task_prerun.connect
def _enter_request_id(task_id=None, task=None, **kwargs):
    from virtool_site.middleware import _request_id, current_request_id

    # Eager tasks run inside the request and keep its id; worker tasks get it from the headers.
    request_id = getattr(task.request, "request_id", None) or current_request_id() or f"task-{task_id}"
    _tokens[task_id] = _request_id.set(request_id)


@task_postrun.connect
def _leave_request_id(task_id=None, **kwargs):
    from virtool_site.middleware import _request_id

    token = _tokens.pop(task_id, None)
    if token is not None:
        _request_id.reset(token)


# Unacknowledged tasks: heartbeat ------------------------------------------------------------

logger = logging.getLogger(__name__)


def _held_delivery_tags() -> list[str]:
    """Delivery tags of every task this worker holds: running, reserved, or scheduled (ETA)."""
    from celery.worker import state

    for _ in range(10):  # the consumer changes these sets while this thread reads them
        try:
            requests = [*state.active_requests, *state.reserved_requests, *state.scheduled_requests]
            break
        except RuntimeError:
            time.sleep(0.01)
    else:
        return []
    tags = {getattr(getattr(request, "message", None), "delivery_tag", None) for request in requests}
    tags.discard(None)
    return sorted(tags)


class UnackedHeartbeat(threading.Thread):
    """Every `interval` seconds, the delivery time of the tasks this worker holds, in the
    Redis transport's `unacked_index`, is set to now (only for tags still there: `XX`, so a
    task acknowledged or restored meanwhile is not brought back)."""

    def __init__(self, celery_app, interval: float):
        super().__init__(name="unacked-heartbeat", daemon=True)
        self.app = celery_app
        self.interval = interval
        self.stopping = threading.Event()
        self.beats = 0

    def run(self):
        failing = False
        while not self.stopping.wait(self.interval):
            try:
                with self.app.connection_for_write() as connection:
                    if connection.transport.driver_type != "redis":
                        return
                    channel = connection.default_channel
                    while True:
                        tags = _held_delivery_tags()
                        if tags:
                            now = time.time()
                            channel.client.zadd(channel.unacked_index_key, {tag: now for tag in tags}, xx=True)
                        self.beats += 1
                        if failing:
                            logger.warning("unacked heartbeat: the broker answers again")
                            failing = False
                        if self.stopping.wait(self.interval):
                            return
            except Exception as error:  # noqa: BLE001 - the worker reconnects on its own; so do we
                if not failing:
                    logger.warning("unacked heartbeat: broker unreachable (%s: %s)", type(error).__name__, error)
                    failing = True

    def stop(self):
        self.stopping.set()


_heartbeat: UnackedHeartbeat | None = None


@worker_ready.connect
def _heartbeat_start(**kwargs):
    global _heartbeat
    from django.conf import settings

    interval = getattr(settings, "CELERY_UNACKED_HEARTBEAT_SECONDS", 0)
    if interval and interval > 0 and _heartbeat is None:
        _heartbeat = UnackedHeartbeat(app, interval)
        _heartbeat.start()


@worker_shutdown.connect
def _heartbeat_stop(**kwargs):
    if _heartbeat is not None:
        _heartbeat.stop()
