import pytest

from virtool_site.middleware import set_request_id
from virtool_site.models import Process
from virtool_site.services import process_create
from virtool_site.tasks import process_touch
from virtool_site.testing import wait_for


@pytest.mark.worker
def test_real_worker_runs_a_task_and_logs_the_request_id_that_queued_it(celery_worker):
    process = process_create(process_type="probe", steps=["one", "two"])
    set_request_id("req-from-web-42")
    try:
        process_touch.delay(process.id)
    finally:
        set_request_id(None)
    wait_for(lambda: Process.objects.get(id=process.id).complete, timeout=60, message="task completion")
    wait_for(lambda: "walked through 2 steps" in celery_worker.log(), timeout=10, message="task log line")
    line = next(l for l in celery_worker.log().splitlines() if "walked through 2 steps" in l)
    assert "[req-from-web-42]" in line


@pytest.mark.django_db
def test_eager_task_keeps_the_request_id_of_the_request_that_ran_it(caplog):
    process = process_create(process_type="probe", steps=["one"])
    set_request_id("req-eager-7")
    try:
        with caplog.at_level("INFO"):
            process_touch.delay(process.id)
        from virtool_site.middleware import current_request_id

        assert current_request_id() == "req-eager-7"
    finally:
        set_request_id(None)
    assert any(getattr(r, "request_id", None) == "req-eager-7" for r in caplog.records if "walked" in r.getMessage())
