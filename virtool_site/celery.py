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


@before_task_publish.connect
def _attach_request_id(headers=None, **kwargs):
    from virtool_site.middleware import current_request_id

    if headers is not None and "request_id" not in headers:
        headers["request_id"] = current_request_id()


@task_prerun.connect
def _enter_request_id(task=None, **kwargs):
    from virtool_site.middleware import set_request_id

    request_id = getattr(task.request, "request_id", None) if task else None
    set_request_id(request_id or f"task-{task.request.id}" if task else None)


@task_postrun.connect
def _leave_request_id(**kwargs):
    from virtool_site.middleware import set_request_id

    set_request_id(None)
