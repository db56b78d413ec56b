"""Queueing a task by its name (virtool_site.tasks_queue): services name tasks, never import them."""

import pytest
from celery.exceptions import NotRegistered
from django.db import transaction

from virtool_site.models import Process
from virtool_site.services import process_create
from virtool_site.tasks_queue import task_enqueue, task_get

pytestmark = pytest.mark.django_db


def test_a_name_resolves_to_the_registered_task_of_any_app():
    assert task_get("refs.delete_reference").name == "refs.delete_reference"
    assert task_get("indexes.build_index").name == "indexes.build_index"
    task = task_get("analyses.blast_run")
    assert task_get(task) is task


def test_an_unknown_name_is_refused_before_anything_is_queued(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks, pytest.raises(NotRegistered):
        with transaction.atomic():
            task_enqueue("refs.no_such_task", "x")
    assert callbacks == []


def test_a_task_queued_by_name_runs_when_the_transaction_commits(user, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        with transaction.atomic():
            process = process_create(process_type="touch", steps=["one", "two"], user=user)
            task_enqueue("virtool_site.process_touch", process.id)
            # Eager in tests, as on a worker: nothing runs before the commit.
            assert not Process.objects.get(id=process.id).complete
    assert Process.objects.get(id=process.id).complete
