import pytest

from virtool_site.models import Process
from virtool_site.testing import wait_for


@pytest.mark.worker
def test_real_worker_runs_a_task_against_the_test_database(celery_worker):
    from virtool_site.services import process_create
    from virtool_site.tasks import process_touch

    process = process_create(process_type="probe", steps=["one", "two"])
    process_touch.delay(process.id)
    wait_for(lambda: Process.objects.get(id=process.id).complete, timeout=60, message="task completion")
