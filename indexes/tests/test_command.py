import io

import pytest
from django.core.management import CommandError, call_command

from indexes.models import Index

pytestmark = pytest.mark.django_db


def test_builds_an_index_in_process(built_reference, user):
    out = io.StringIO()
    call_command("build_index", built_reference.id, "--user", user.username, "--now", stdout=out)
    index = Index.objects.get()
    assert index.ready
    assert f"Index {index.id} (version 0) is ready" in out.getvalue()


def test_queues_a_build_for_a_worker(built_reference, user, django_capture_on_commit_callbacks):
    out = io.StringIO()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        call_command("build_index", built_reference.id, "--user", user.username, stdout=out)
    assert len(callbacks) == 1
    assert "queued as job" in out.getvalue()


def test_refuses_with_the_services_message(reference, user):
    with pytest.raises(CommandError, match="There are no unbuilt changes"):
        call_command("build_index", reference.id, "--user", user.username)


def test_needs_an_administrator_or_a_user(built_reference):
    with pytest.raises(CommandError, match="No administrator"):
        call_command("build_index", built_reference.id)
