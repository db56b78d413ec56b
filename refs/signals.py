"""Deleting a user or a group writes to references' data: their rights entries go, and the
changes they made lose their author. Like every write to a reference's data, that raises the
revisions first, in the deletion's transaction before its rows go (refs.revisions): it takes
the references' locks in one order, so it never deadlocks with a writer of one of them (and
the test suite's revision guard holds deletions to it)."""

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db.models.signals import pre_delete

from refs.revisions import references_revision_bump_all


def _bump_when_deleted(sender, instance, **kwargs):
    references_revision_bump_all()


def connect() -> None:
    for model in (get_user_model(), Group):
        pre_delete.connect(_bump_when_deleted, sender=model, dispatch_uid=f"refs-delete-{model.__name__}")
