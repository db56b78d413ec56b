"""The Celery app: `celery -A virtool_site worker`.

The request id of the HTTP request that queued a task travels in the task headers and is set
as the logging context while the task runs, so a request and the work it started share an id.
"""

import os

from celery import Celery
from celery.signals import before_task_publish, task_postrun, task_prerun

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
