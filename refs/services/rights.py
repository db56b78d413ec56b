"""Who may do what on a reference: the per-user and per-group rights (`build`, `modify`,
`modify_otu`, `remove`), given, changed and taken away by holders of the `modify` right.

Users and groups follow one path (`_reference_member_*`), told apart by `kind`.
"""

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import IntegrityError, transaction

from refs.models import Reference, ReferenceGroup, ReferenceUser
from refs.permissions import RIGHT_ALIASES, RIGHTS, reference_rights_check
from refs.revisions import reference_revision_bump_live
from virtool_site.errors import BadRequest, NotFound


def rights_clean(rights: dict) -> dict:
    """Rights by their current names (`modify_kind` is an older name for `modify_otu`)."""
    cleaned = {}
    for name, value in rights.items():
        name = RIGHT_ALIASES.get(name, name)
        if name not in RIGHTS:
            raise ValueError(f"unknown reference right {name}")
        cleaned[name] = bool(value)
    return cleaned


def _member_kind(kind: str):
    if kind == "user":
        return ReferenceUser, "user", get_user_model(), "username", "User"
    if kind == "group":
        return ReferenceGroup, "group", Group, "name", "Group"
    raise ValueError(kind)


@transaction.atomic
def _reference_member_add(*, kind: str, user, reference: Reference, member_id: str, rights: dict):
    model, field, member_model, key, label = _member_kind(kind)
    reference_rights_check(user=user, reference=reference, right="modify")
    reference_revision_bump_live(reference_id=reference.pk)
    member = member_model.objects.filter(**{key: member_id}).first()
    if member is None:
        raise BadRequest(f"{label} does not exist")
    try:  # the unique constraint answers "already exists" (also for a concurrent add)
        with transaction.atomic():
            return model.objects.create(reference=reference, **{field: member}, **rights_clean(rights))
    except IntegrityError:
        raise BadRequest(f"{label} already exists") from None


@transaction.atomic
def _reference_member_edit(*, kind: str, user, reference: Reference, member_id: str, rights: dict):
    model, field, _, key, _ = _member_kind(kind)
    reference_rights_check(user=user, reference=reference, right="modify")
    reference_revision_bump_live(reference_id=reference.pk)
    entry = (
        model.objects.select_for_update()
        .select_related(field)
        .filter(reference=reference, **{f"{field}__{key}": member_id})
        .first()
    )
    if entry is None:
        raise NotFound()
    changes = rights_clean(rights)
    for name, value in changes.items():
        setattr(entry, name, value)
    if changes:
        entry.save(update_fields=list(changes))
    return entry


@transaction.atomic
def _reference_member_remove(*, kind: str, user, reference: Reference, member_id: str) -> None:
    model, field, _, key, _ = _member_kind(kind)
    reference_rights_check(user=user, reference=reference, right="modify")
    reference_revision_bump_live(reference_id=reference.pk)
    deleted, _ = model.objects.filter(reference=reference, **{f"{field}__{key}": member_id}).delete()
    if not deleted:
        raise NotFound()


def reference_user_add(*, user, reference: Reference, user_id: str, rights: dict) -> ReferenceUser:
    """Give the user `user_id` (a username) rights on the reference."""
    return _reference_member_add(kind="user", user=user, reference=reference, member_id=user_id, rights=rights)


def reference_user_edit(*, user, reference: Reference, user_id: str, rights: dict) -> ReferenceUser:
    return _reference_member_edit(kind="user", user=user, reference=reference, member_id=user_id, rights=rights)


def reference_user_remove(*, user, reference: Reference, user_id: str) -> None:
    _reference_member_remove(kind="user", user=user, reference=reference, member_id=user_id)


def reference_group_add(*, user, reference: Reference, group_id: str, rights: dict) -> ReferenceGroup:
    """Give the group `group_id` (its name) rights on the reference."""
    return _reference_member_add(kind="group", user=user, reference=reference, member_id=group_id, rights=rights)


def reference_group_edit(*, user, reference: Reference, group_id: str, rights: dict) -> ReferenceGroup:
    return _reference_member_edit(kind="group", user=user, reference=reference, member_id=group_id, rights=rights)


def reference_group_remove(*, user, reference: Reference, group_id: str) -> None:
    _reference_member_remove(kind="group", user=user, reference=reference, member_id=group_id)
