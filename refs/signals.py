"""Cached answers show users by username and groups by name (refs.revisions): renaming or
deleting either raises every reference's revision, in the same transaction (a rename after it
is written, so no reader can cache the old name under the new revision). Both are rare."""

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db.models.signals import post_save, pre_delete, pre_save

from refs.revisions import references_revision_bump_all

#: The field each model is shown by.
SHOWN_BY = {"user": "username", "group": "name"}


def _shown_as(model) -> str:
    return SHOWN_BY["group" if model is Group else "user"]


def _remember_name(sender, instance, raw=False, update_fields=None, **kwargs):
    field = _shown_as(sender)
    if raw or instance.pk is None or (update_fields is not None and field not in update_fields):
        return
    instance._name_before_save = sender._default_manager.filter(pk=instance.pk).values_list(field, flat=True).first()


def _bump_when_renamed(sender, instance, created=False, raw=False, **kwargs):
    before = instance.__dict__.pop("_name_before_save", None)
    if raw or created or before is None:
        return
    if before != getattr(instance, _shown_as(sender)):
        references_revision_bump_all()


def _bump_when_deleted(sender, instance, **kwargs):
    # Sent inside the deletion's transaction, before its rows (rights entries, authorship) go.
    references_revision_bump_all()


def connect() -> None:
    for model in (get_user_model(), Group):
        pre_delete.connect(_bump_when_deleted, sender=model, dispatch_uid=f"refs-delete-{model.__name__}")
        pre_save.connect(_remember_name, sender=model, dispatch_uid=f"refs-rename-{model.__name__}-pre")
        post_save.connect(_bump_when_renamed, sender=model, dispatch_uid=f"refs-rename-{model.__name__}-post")
