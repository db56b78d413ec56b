"""virtool_site.processes.process_run: how a task's work ends its Process, and `on_fail`,
which undoes what was made for the work in the transaction that records its failure."""

import pytest

from virtool_site.models import Process
from virtool_site.processes import ProcessError, process_run
from virtool_site.services import process_create

pytestmark = pytest.mark.django_db


def new_process(user):
    return process_create(process_type="import_reference", steps=["load", "write"], user=user)


def test_on_fail_runs_with_the_report_and_commits_with_the_failure(user):
    process = new_process(user)
    undone = []

    def on_fail(report):
        undone.append(report)
        process_create(process_type="marker", steps=["one"], user=user)

    with process_run(process.id, on_fail=on_fail):
        raise ProcessError(report={"id": "bad", "message": "Bad file", "errors": [{"id": "x"}]})
    process.refresh_from_db()
    assert process.complete and process.error == {"id": "bad", "message": "Bad file", "errors": [{"id": "x"}]}
    assert undone == [process.error]
    assert Process.objects.filter(type="marker").exists()


def test_on_fail_sees_unexpected_errors_too(user):
    process = new_process(user)
    undone = []
    with process_run(process.id, on_fail=undone.append):
        raise RuntimeError("disk on fire")
    assert undone == [{"id": "unexpected_error", "type": "RuntimeError", "message": "disk on fire"}]
    assert Process.objects.get(id=process.id).error == undone[0]


def test_a_failing_on_fail_is_rolled_back_and_the_failure_still_recorded(user):
    process = new_process(user)

    def on_fail(report):
        process_create(process_type="marker", steps=["one"], user=user)
        raise RuntimeError("cannot undo")

    with process_run(process.id, on_fail=on_fail):
        raise ProcessError("Bad file")
    process.refresh_from_db()
    assert process.complete and process.error == {"id": "process_error", "message": "Bad file"}
    assert not Process.objects.filter(type="marker").exists()


def test_on_fail_is_not_called_when_the_work_succeeds(user):
    process = new_process(user)
    undone = []
    with process_run(process.id, on_fail=undone.append) as progress:
        progress.step("write")
    process.refresh_from_db()
    assert process.complete and process.error is None and undone == []


def test_without_a_process_on_fail_runs_and_the_error_is_raised():
    undone = []
    with pytest.raises(ProcessError, match="Bad file"):
        with process_run(None, on_fail=undone.append):
            raise ProcessError("Bad file")
    assert undone == [{"id": "process_error", "message": "Bad file"}]


@pytest.mark.django_db(transaction=True)
def test_progress_written_from_inside_the_tasks_transaction_keeps_the_request_id(user, monkeypatch):
    # The helper thread that writes progress past the task's open transaction logs (a failed
    # update) under the request id of the task, like every other line of the task.
    from django.db import transaction

    from virtool_site import processes
    from virtool_site.middleware import current_request_id, set_request_id

    seen = []
    monkeypatch.setattr(processes, "process_step", lambda **kwargs: seen.append(current_request_id()))
    process = process_create(process_type="marker", steps=["one"], user=user)
    set_request_id("req-progress-1")
    try:
        progress = processes.ProcessProgress(process.id)
        with transaction.atomic():
            progress.step("one")
        progress.close()
    finally:
        set_request_id(None)
    assert seen == ["req-progress-1"]
