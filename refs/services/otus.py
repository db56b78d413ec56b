"""Changing an OTU: creating, editing and removing it, and the machinery every OTU change
(here and in refs.services.isolates) goes through.

Each change checks the caller's rights, bumps the reference's revision, locks the OTU row
(`select_for_update`) so concurrent edits of one OTU queue up instead of losing updates,
builds the joined document before and after, bumps the version by one, keeps `verified` in
step with the verification issues, and records exactly one Change for the new version.
Names and abbreviations are unique per reference: a taken one is refused with Virtool's
message, also when another writer wins the race.
"""

from django.db import IntegrityError, transaction
from django.db.models import Count, Q
from django.db.models.functions import Lower

from history.services import change_record
from refs.documents import otu_document_load, otu_issues
from refs.models import OTU, Reference
from refs.permissions import reference_rights_check, references_visible
from refs.revisions import reference_revision_bump_live
from virtool_site.errors import BadRequest, NotFound


# Names and abbreviations ------------------------------------------------------------------


def otu_name_abbreviation_message(
    *, reference_id: str, name: str | None = None, abbreviation: str | None = None, exclude_otu_id: str | None = None
) -> str | None:
    """Virtool's message when the name or abbreviation is taken in the reference, else None."""
    if not name and not abbreviation:
        return None
    otus = OTU.objects.filter(reference_id=reference_id).annotate(lower_name=Lower("name"))
    if exclude_otu_id:
        otus = otus.exclude(id=exclude_otu_id)
    # One statement, so both answers come from one snapshot even while others commit.
    name_match = Q(lower_name=name.lower()) if name else Q(pk__in=[])
    abbreviation_match = Q(abbreviation=abbreviation) if abbreviation else Q(pk__in=[])
    taken = otus.filter(name_match | abbreviation_match).aggregate(
        name=Count("pk", filter=name_match), abbreviation=Count("pk", filter=abbreviation_match)
    )
    name_taken, abbreviation_taken = bool(taken["name"]), bool(taken["abbreviation"])
    if name_taken and abbreviation_taken:
        return "Name and abbreviation already exist"
    if name_taken:
        return "Name already exists"
    if abbreviation_taken:
        return "Abbreviation already exists"
    return None


def otu_unique_write(write, *, error_class, **check):
    """Run `write` in a savepoint; a uniqueness race lost to another writer gets the message."""
    try:
        with transaction.atomic():
            return write()
    except IntegrityError:
        message = otu_name_abbreviation_message(**check)
        if message is None:
            raise
        raise error_class(message) from None


# OTU change machinery ----------------------------------------------------------------------


def _reference_for_change(*, user, reference) -> Reference:
    """The visible reference (404) on which the user holds `modify_otu` (403)."""
    reference_id = getattr(reference, "pk", reference)
    reference = references_visible(user).filter(id=reference_id).first()
    if reference is None:
        raise NotFound()
    reference_rights_check(user=user, reference=reference, right="modify_otu")
    reference_revision_bump_live(reference_id=reference.id)
    return reference


def otu_lock(*, user, otu_id: str) -> tuple[OTU, dict]:
    """Check visibility (404) and `modify_otu` (403), then lock the OTU row; with its document."""
    reference_id = (
        OTU.objects.filter(id=otu_id, reference__in=references_visible(user))
        .values_list("reference_id", flat=True)
        .first()
    )
    if reference_id is None:
        raise NotFound()
    reference_rights_check(user=user, reference=reference_id, right="modify_otu")
    reference_revision_bump_live(reference_id=reference_id)
    otu = OTU.objects.select_for_update().filter(id=otu_id).first()
    if otu is None:  # removed while we waited for the lock
        raise NotFound()
    return otu, otu_document_load(otu_id)


def otu_commit(*, user, otu: OTU, old: dict, method_name: str, description: str) -> dict:
    """After the rows changed: bump the version, resync `verified`, record the Change."""
    new = otu_document_load(otu.id)
    otu.version = old["version"] + 1
    otu.verified = otu_issues(new) is None
    OTU.objects.filter(id=otu.id).update(version=otu.version, verified=otu.verified)
    new["version"] = otu.version
    new["verified"] = otu.verified
    change_record(method_name=method_name, description=description, old=old, new=new, user=user)
    return new


def _capitalized(phrase: str) -> str:
    return phrase[:1].upper() + phrase[1:]


def otu_edit_description(
    *, name: str | None, abbreviation: str | None, old_abbreviation: str, schema_changed: bool
) -> str:
    """Virtool's wording; `name` and `abbreviation` are given only when they changed."""
    description = f"Changed name to {name}" if name is not None else None
    if abbreviation is not None:
        if abbreviation == "" and old_abbreviation:
            phrase = f"removed abbreviation {old_abbreviation}"
        elif abbreviation and not old_abbreviation:
            phrase = f"added abbreviation {abbreviation}"
        else:
            phrase = f"changed abbreviation to {abbreviation}"
        description = f"{description} and {phrase}" if description else _capitalized(phrase)
    if schema_changed:
        description = f"{description} and modified schema" if description else "Modified schema"
    return description or ""


# OTUs ---------------------------------------------------------------------------------------


@transaction.atomic
def otu_create(*, user, reference, name: str, abbreviation: str = "", schema: list | None = None) -> OTU:
    """A new OTU at version 0 (the `modify_otu` right)."""
    reference = _reference_for_change(user=user, reference=reference)
    name, abbreviation = name.strip(), (abbreviation or "").strip()
    check = {"reference_id": reference.id, "name": name, "abbreviation": abbreviation}
    message = otu_name_abbreviation_message(**check)
    if message:
        raise BadRequest(message)
    otu = otu_unique_write(
        lambda: OTU.objects.create(
            reference=reference, name=name, abbreviation=abbreviation, schema=list(schema or []), version=0, verified=False
        ),
        error_class=BadRequest,
        **check,
    )
    document = otu_document_load(otu.id)
    verified = otu_issues(document) is None
    if verified != otu.verified:
        OTU.objects.filter(id=otu.id).update(verified=verified)
        otu.verified = document["verified"] = verified
    description = f"Created {name}" + (f" ({abbreviation})" if abbreviation else "")
    change_record(method_name="create", description=description, old=None, new=document, user=user)
    return otu


@transaction.atomic
def otu_edit(
    *, user, otu_id: str, name: str | None = None, abbreviation: str | None = None, schema: list | None = None
) -> OTU:
    """Change name, abbreviation and/or schema; nothing is recorded when nothing changes."""
    otu, old = otu_lock(user=user, otu_id=otu_id)
    name = name.strip() if name is not None else None
    abbreviation = abbreviation.strip() if abbreviation is not None else None
    new_name = name if name is not None and name != otu.name else None
    new_abbreviation = abbreviation if abbreviation is not None and abbreviation != otu.abbreviation else None
    schema_changed = schema is not None and list(schema) != (otu.schema or [])
    if new_name is None and new_abbreviation is None and not schema_changed:
        return otu
    check = {
        "reference_id": otu.reference_id,
        "name": new_name,
        "abbreviation": new_abbreviation,
        "exclude_otu_id": otu.id,
    }
    message = otu_name_abbreviation_message(**check)
    if message:
        raise BadRequest(message)
    fields = {}
    if new_name is not None:
        fields["name"] = new_name
    if new_abbreviation is not None:
        fields["abbreviation"] = new_abbreviation
    if schema_changed:
        fields["schema"] = list(schema)
    otu_unique_write(lambda: OTU.objects.filter(id=otu.id).update(**fields), error_class=BadRequest, **check)
    for field, value in fields.items():
        setattr(otu, field, value)
    description = otu_edit_description(
        name=new_name, abbreviation=new_abbreviation, old_abbreviation=old["abbreviation"], schema_changed=schema_changed
    )
    otu_commit(user=user, otu=otu, old=old, method_name="edit", description=description)
    return otu


@transaction.atomic
def otu_remove(*, user, otu_id: str) -> None:
    """Remove the OTU with its isolates and sequences; its removal Change holds its document."""
    otu, old = otu_lock(user=user, otu_id=otu_id)
    description = f"Removed {otu.name}" + (f" ({otu.abbreviation})" if otu.abbreviation else "")
    otu.delete()
    change_record(method_name="remove", description=description, old=old, new=None, user=user)
