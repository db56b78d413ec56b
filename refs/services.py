"""Writes to references, OTUs, isolates and sequences. Every OTU change records its Change in
the same transaction (see history.services).

Each OTU-changing service is the single path every caller (REST, admin, commands, tasks) goes
through: it checks the caller's rights, locks the OTU row (`select_for_update`) so concurrent
edits of one OTU queue up instead of losing updates, builds the joined document before and
after, bumps the version by one, keeps `verified` in step with the verification issues, and
records exactly one Change for the new version.
"""

import re

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import IntegrityError, transaction
from django.db.models import Count, Q
from django.db.models.functions import Lower

from history.services import change_record
from refs.documents import otu_document_load, otu_issues
from refs.models import OTU, Isolate, Reference, ReferenceGroup, ReferenceUser, Sequence, isolate_name
from refs.permissions import RIGHT_ALIASES, RIGHTS, reference_rights_check, references_visible
from refs.revisions import reference_revision_bump
from virtool_site.errors import BadRequest, Conflict, NotFound
from virtool_site.ids import random_id

#: IUPAC nucleotide codes (gaps are not sequence data).
IUPAC_NUCLEOTIDES = re.compile(r"^[ACGTURYSWKMBDHVN]+$")


# References --------------------------------------------------------------------------------


@transaction.atomic
def reference_create(
    *,
    user,
    name: str,
    description: str = "",
    organism: str = "virus",
    data_type: str = "genome",
    public: bool = False,
    **fields,
) -> Reference:
    """A new, empty reference; its creator holds every right on it.

    `fields` sets further Reference fields (`imported_from`, `cloned_from`, `remotes_from`,
    `process`, ...), for the import, clone and remote paths.
    """
    reference = Reference.objects.create(
        name=name,
        description=description,
        organism=organism,
        data_type=data_type,
        public=public,
        user=user,
        **fields,
    )
    reference_revision_bump(reference_ids=reference.id)
    ReferenceUser.objects.create(reference=reference, user=user, build=True, modify=True, modify_otu=True, remove=True)
    return reference


REFERENCE_EDITABLE = (
    "name",
    "description",
    "organism",
    "internal_control",
    "restrict_source_types",
    "source_types",
    "public",
)


def source_types_clean(source_types) -> list[str]:
    """Lower-cased, stripped, without blanks or repeats, in the given order."""
    cleaned = []
    for source_type in source_types:
        value = source_type.strip().lower()
        if value and value not in cleaned:
            cleaned.append(value)
    return cleaned


@transaction.atomic
def reference_edit(*, user, reference: Reference, **changes) -> Reference:
    """Change a reference's settings (the `modify` right)."""
    unknown = set(changes) - set(REFERENCE_EDITABLE)
    if unknown:
        raise ValueError(f"not editable: {sorted(unknown)}")
    reference_rights_check(user=user, reference=reference, right="modify")
    reference_revision_bump(reference_ids=reference.pk)  # also locks the row
    reference = Reference.objects.get(pk=reference.pk)
    if "internal_control" in changes:
        otu_id = changes["internal_control"] or None
        if otu_id and not OTU.objects.filter(id=otu_id, reference=reference).exists():
            raise BadRequest("Internal control does not exist")
        changes["internal_control"] = otu_id
    if "source_types" in changes:
        changes["source_types"] = source_types_clean(changes["source_types"])
    for field, value in changes.items():
        setattr(reference, field, value)
    if changes:
        reference.save(update_fields=list(changes))
    return reference


# Reference rights --------------------------------------------------------------------------


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
    reference_revision_bump(reference_ids=reference.pk)
    member = member_model.objects.filter(**{key: member_id}).first()
    if member is None:
        raise BadRequest(f"{label} does not exist")
    if model.objects.filter(reference=reference, **{field: member}).exists():
        raise BadRequest(f"{label} already exists")
    try:
        with transaction.atomic():
            return model.objects.create(reference=reference, **{field: member}, **rights_clean(rights))
    except IntegrityError:
        raise BadRequest(f"{label} already exists") from None


@transaction.atomic
def _reference_member_edit(*, kind: str, user, reference: Reference, member_id: str, rights: dict):
    model, field, _, key, _ = _member_kind(kind)
    reference_rights_check(user=user, reference=reference, right="modify")
    reference_revision_bump(reference_ids=reference.pk)
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
    reference_revision_bump(reference_ids=reference.pk)
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


def _unique_write(write, *, error_class, **check):
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
    reference_revision_bump(reference_ids=reference.id)
    return reference


def _otu_lock(*, user, otu_id: str) -> tuple[OTU, dict]:
    """Check visibility (404) and `modify_otu` (403), then lock the OTU row; with its document."""
    reference_id = (
        OTU.objects.filter(id=otu_id, reference__in=references_visible(user))
        .values_list("reference_id", flat=True)
        .first()
    )
    if reference_id is None:
        raise NotFound()
    reference_rights_check(user=user, reference=reference_id, right="modify_otu")
    reference_revision_bump(reference_ids=reference_id)
    otu = OTU.objects.select_for_update().filter(id=otu_id).first()
    if otu is None:  # removed while we waited for the lock
        raise NotFound()
    return otu, otu_document_load(otu_id)


def _otu_commit(*, user, otu: OTU, old: dict, method_name: str, description: str) -> dict:
    """After the rows changed: bump the version, resync `verified`, record the Change."""
    new = otu_document_load(otu.id)
    otu.version = old["version"] + 1
    otu.verified = otu_issues(new) is None
    OTU.objects.filter(id=otu.id).update(version=otu.version, verified=otu.verified)
    new["version"] = otu.version
    new["verified"] = otu.verified
    change_record(method_name=method_name, description=description, old=old, new=new, user=user)
    return new


def _source_type_check(reference: Reference, source_type: str) -> None:
    """Virtool: `unknown` and blank are always allowed; others only from the list when restricted."""
    if source_type in ("", "unknown") or not reference.restrict_source_types:
        return
    if source_type not in (reference.source_types or []):
        raise BadRequest("Source type is not allowed")


def _isolate_get(otu: OTU, isolate_id: str) -> Isolate:
    isolate = Isolate.objects.filter(otu=otu, isolate_id=isolate_id).first()
    if isolate is None:
        raise NotFound()
    return isolate


def _segment_check(otu: OTU, segment: str | None) -> None:
    if segment and segment not in {s.get("name") for s in otu.schema or []}:
        raise BadRequest("Segment does not exist")


def sequence_clean(sequence: str) -> str:
    """Upper-cased without whitespace; ValueError unless it is IUPAC nucleotide codes."""
    cleaned = re.sub(r"\s+", "", sequence or "").upper()
    if not IUPAC_NUCLEOTIDES.match(cleaned):
        raise ValueError("Sequence may only contain IUPAC nucleotide codes")
    return cleaned


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
    otu = _unique_write(
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
    otu, old = _otu_lock(user=user, otu_id=otu_id)
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
    _unique_write(lambda: OTU.objects.filter(id=otu.id).update(**fields), error_class=BadRequest, **check)
    for field, value in fields.items():
        setattr(otu, field, value)
    description = otu_edit_description(
        name=new_name, abbreviation=new_abbreviation, old_abbreviation=old["abbreviation"], schema_changed=schema_changed
    )
    _otu_commit(user=user, otu=otu, old=old, method_name="edit", description=description)
    return otu


@transaction.atomic
def otu_remove(*, user, otu_id: str) -> None:
    """Remove the OTU with its isolates and sequences; its removal Change holds its document."""
    otu, old = _otu_lock(user=user, otu_id=otu_id)
    description = f"Removed {otu.name}" + (f" ({otu.abbreviation})" if otu.abbreviation else "")
    otu.delete()
    change_record(method_name="remove", description=description, old=old, new=None, user=user)


# Isolates ------------------------------------------------------------------------------------


@transaction.atomic
def isolate_add(*, user, otu_id: str, source_type: str = "", source_name: str = "", default: bool = False) -> Isolate:
    """A new isolate at the end; the first isolate of an OTU is always its default."""
    otu, old = _otu_lock(user=user, otu_id=otu_id)
    source_type, source_name = source_type.strip().lower(), source_name.strip()
    _source_type_check(otu.reference, source_type)
    existing = old["isolates"]
    will_be_default = not existing or default
    if will_be_default and existing:
        Isolate.objects.filter(otu=otu, default=True).update(default=False)
    taken = {i["id"] for i in existing}
    isolate_id = random_id()
    while isolate_id in taken:
        isolate_id = random_id()
    last = Isolate.objects.filter(otu=otu).order_by("-position").values_list("position", flat=True).first()
    isolate = Isolate.objects.create(
        otu=otu,
        isolate_id=isolate_id,
        position=0 if last is None else last + 1,
        source_type=source_type,
        source_name=source_name,
        default=will_be_default,
    )
    description = f"Added {isolate_name(source_type, source_name)}"
    if will_be_default:
        description += " and set as default"
    _otu_commit(user=user, otu=otu, old=old, method_name="add_isolate", description=description)
    return isolate


@transaction.atomic
def isolate_edit(
    *, user, otu_id: str, isolate_id: str, source_type: str | None = None, source_name: str | None = None
) -> Isolate:
    """Rename an isolate; nothing is recorded when nothing changes."""
    otu, old = _otu_lock(user=user, otu_id=otu_id)
    isolate = _isolate_get(otu, isolate_id)
    old_name = isolate_name(isolate.source_type, isolate.source_name)
    fields = {}
    if source_type is not None:
        source_type = source_type.strip().lower()
        _source_type_check(otu.reference, source_type)
        if source_type != isolate.source_type:
            fields["source_type"] = source_type
    if source_name is not None and source_name.strip() != isolate.source_name:
        fields["source_name"] = source_name.strip()
    if not fields:
        return isolate
    for field, value in fields.items():
        setattr(isolate, field, value)
    isolate.save(update_fields=list(fields))
    description = f"Renamed {old_name} to {isolate_name(isolate.source_type, isolate.source_name)}"
    _otu_commit(user=user, otu=otu, old=old, method_name="edit_isolate", description=description)
    return isolate


@transaction.atomic
def isolate_remove(*, user, otu_id: str, isolate_id: str) -> None:
    """Remove an isolate and its sequences; when it was the default, the first remaining one is."""
    otu, old = _otu_lock(user=user, otu_id=otu_id)
    isolate = _isolate_get(otu, isolate_id)
    name = isolate_name(isolate.source_type, isolate.source_name)
    was_default = isolate.default
    isolate.delete()
    description = f"Removed {name}"
    if was_default:
        new_default = Isolate.objects.filter(otu=otu).order_by("position").first()
        if new_default is not None:
            new_default.default = True
            new_default.save(update_fields=["default"])
            description += f" and set {isolate_name(new_default.source_type, new_default.source_name)} as default"
    _otu_commit(user=user, otu=otu, old=old, method_name="remove_isolate", description=description)


@transaction.atomic
def isolate_set_default(*, user, otu_id: str, isolate_id: str) -> Isolate:
    """Make the isolate the OTU's default; nothing is recorded when it already is."""
    otu, old = _otu_lock(user=user, otu_id=otu_id)
    isolate = _isolate_get(otu, isolate_id)
    if isolate.default:
        return isolate
    Isolate.objects.filter(otu=otu, default=True).update(default=False)
    isolate.default = True
    isolate.save(update_fields=["default"])
    description = f"Set {isolate_name(isolate.source_type, isolate.source_name)} as default"
    _otu_commit(user=user, otu=otu, old=old, method_name="set_as_default", description=description)
    return isolate


# Sequences -----------------------------------------------------------------------------------


@transaction.atomic
def sequence_create(
    *,
    user,
    otu_id: str,
    isolate_id: str,
    accession: str,
    definition: str = "",
    host: str = "",
    segment: str | None = None,
    sequence: str,
) -> Sequence:
    """A new sequence at the end of the isolate; its segment must be in the OTU's schema."""
    otu, old = _otu_lock(user=user, otu_id=otu_id)
    isolate = _isolate_get(otu, isolate_id)
    segment = segment or None
    _segment_check(otu, segment)
    try:
        sequence = sequence_clean(sequence)
    except ValueError as error:
        raise BadRequest(str(error)) from None
    last = Sequence.objects.filter(isolate=isolate).order_by("-position").values_list("position", flat=True).first()
    created = Sequence.objects.create(
        otu=otu,
        isolate=isolate,
        position=0 if last is None else last + 1,
        accession=accession.strip(),
        definition=definition.strip(),
        host=host.strip(),
        segment=segment,
        sequence=sequence,
    )
    description = (
        f"Created new sequence {created.accession} in {isolate_name(isolate.source_type, isolate.source_name)}"
    )
    _otu_commit(user=user, otu=otu, old=old, method_name="create_sequence", description=description)
    return created


SEQUENCE_EDITABLE = ("accession", "definition", "host", "segment", "sequence")


@transaction.atomic
def sequence_edit(*, user, otu_id: str, isolate_id: str, sequence_id: str, **changes) -> Sequence:
    """Change a sequence's fields; nothing is recorded when nothing changes."""
    unknown = set(changes) - set(SEQUENCE_EDITABLE)
    if unknown:
        raise ValueError(f"not editable: {sorted(unknown)}")
    otu, old = _otu_lock(user=user, otu_id=otu_id)
    isolate = _isolate_get(otu, isolate_id)
    sequence = Sequence.objects.filter(isolate=isolate, id=sequence_id).first()
    if sequence is None:
        raise NotFound()
    if "segment" in changes:
        changes["segment"] = changes["segment"] or None
        _segment_check(otu, changes["segment"])
    if "sequence" in changes:
        try:
            changes["sequence"] = sequence_clean(changes["sequence"])
        except ValueError as error:
            raise BadRequest(str(error)) from None
    for field in ("accession", "definition", "host"):
        if field in changes:
            changes[field] = (changes[field] or "").strip()
    fields = {field: value for field, value in changes.items() if getattr(sequence, field) != value}
    if not fields:
        return sequence
    for field, value in fields.items():
        setattr(sequence, field, value)
    sequence.save(update_fields=list(fields))
    description = f"Edited sequence {sequence.accession} in {isolate_name(isolate.source_type, isolate.source_name)}"
    _otu_commit(user=user, otu=otu, old=old, method_name="edit_sequence", description=description)
    return sequence


@transaction.atomic
def sequence_remove(*, user, otu_id: str, isolate_id: str, sequence_id: str) -> None:
    otu, old = _otu_lock(user=user, otu_id=otu_id)
    isolate = _isolate_get(otu, isolate_id)
    sequence = Sequence.objects.filter(isolate=isolate, id=sequence_id).first()
    if sequence is None:
        raise NotFound()
    accession = sequence.accession
    sequence.delete()
    description = f"Removed sequence {accession} from {isolate_name(isolate.source_type, isolate.source_name)}"
    _otu_commit(user=user, otu=otu, old=old, method_name="remove_sequence", description=description)


# Writing a joined document back (history revert) ----------------------------------------


@transaction.atomic
def otu_document_restore(*, document: dict) -> OTU:
    """Make the OTU, its isolates and its sequences exactly what the joined `document` says.

    Rows are matched by id, so untouched rows stay as they are; order comes from the
    document's lists. A name or abbreviation taken meanwhile by another OTU is a 409.
    """
    otu_id = document["_id"]
    reference_id = document["reference"]["id"]
    check = {
        "reference_id": reference_id,
        "name": document["name"],
        "abbreviation": document.get("abbreviation") or "",
        "exclude_otu_id": otu_id,
    }
    message = otu_name_abbreviation_message(**check)
    if message:
        raise Conflict(message)
    fields = {
        "reference_id": reference_id,
        "name": document["name"],
        "abbreviation": document.get("abbreviation") or "",
        "schema": document.get("schema") or [],
        "taxid": document.get("taxid"),
        "version": document["version"],
        "verified": document.get("verified", False),
        "imported": document.get("imported", False),
        "last_indexed_version": document.get("last_indexed_version"),
        "remote_id": (document.get("remote") or {}).get("id"),
    }
    otu = _unique_write(
        lambda: OTU.objects.update_or_create(id=otu_id, defaults=fields)[0], error_class=Conflict, **check
    )

    wanted_isolates = document.get("isolates") or []
    wanted_isolate_ids = [i["id"] for i in wanted_isolates]
    Isolate.objects.filter(otu=otu).exclude(isolate_id__in=wanted_isolate_ids).delete()
    # Clear every default first: the one-default constraint is checked row by row.
    Isolate.objects.filter(otu=otu, default=True).update(default=False)
    existing_isolates = {i.isolate_id: i for i in Isolate.objects.filter(otu=otu)}
    isolate_updates, isolate_creates = [], []
    for position, wanted in enumerate(wanted_isolates):
        isolate = existing_isolates.get(wanted["id"]) or Isolate(otu=otu, isolate_id=wanted["id"])
        isolate.position = position
        isolate.source_type = wanted.get("source_type") or ""
        isolate.source_name = wanted.get("source_name") or ""
        isolate.default = bool(wanted.get("default"))
        (isolate_updates if isolate.pk else isolate_creates).append(isolate)
    if isolate_updates:
        Isolate.objects.bulk_update(isolate_updates, ["position", "source_type", "source_name", "default"])
    Isolate.objects.bulk_create(isolate_creates)
    isolates_by_id = {i.isolate_id: i for i in isolate_updates + isolate_creates}

    wanted_sequences = [(isolate, s) for isolate in wanted_isolates for s in isolate.get("sequences") or []]
    wanted_sequence_ids = [s["_id"] for _, s in wanted_sequences]
    Sequence.objects.filter(otu=otu).exclude(id__in=wanted_sequence_ids).delete()
    existing_sequences = {s.id: s for s in Sequence.objects.filter(id__in=wanted_sequence_ids)}
    sequence_updates, sequence_creates = [], []
    positions: dict[str, int] = {}
    for wanted_isolate, wanted in wanted_sequences:
        isolate = isolates_by_id[wanted_isolate["id"]]
        sequence = existing_sequences.get(wanted["_id"]) or Sequence(id=wanted["_id"])
        sequence.otu = otu
        sequence.isolate = isolate
        sequence.position = positions.get(isolate.isolate_id, 0)
        positions[isolate.isolate_id] = sequence.position + 1
        sequence.accession = wanted.get("accession") or ""
        sequence.definition = wanted.get("definition") or ""
        sequence.host = wanted.get("host") or ""
        sequence.segment = wanted.get("segment")
        sequence.sequence = wanted.get("sequence") or ""
        sequence.remote_id = (wanted.get("remote") or {}).get("id")
        (sequence_updates if wanted["_id"] in existing_sequences else sequence_creates).append(sequence)
    if sequence_updates:
        Sequence.objects.bulk_update(
            sequence_updates,
            ["otu", "isolate", "position", "accession", "definition", "host", "segment", "sequence", "remote_id"],
        )
    Sequence.objects.bulk_create(sequence_creates)
    return otu


class OtuStore:
    """What history's revert needs from refs, handed to it so history never imports refs.

    See `history.revert.change_revert`.
    """

    def check(self, *, user, reference_id: str) -> None:
        """404 when the user may not see the reference, 403 without `modify_otu`."""
        if not references_visible(user).filter(id=reference_id).exists():
            raise NotFound()
        reference_rights_check(user=user, reference=reference_id, right="modify_otu")

    def lock(self, *, otu_id: str, reference_id: str) -> dict | None:
        """Raise the reference's revision (its lock comes first, as in every OTU change), lock
        the OTU row (if the OTU exists) and return its joined document."""
        reference_revision_bump(reference_ids=reference_id)
        if not list(OTU.objects.select_for_update().filter(id=otu_id).values_list("id", flat=True)):
            return None
        return otu_document_load(otu_id)

    def write(self, *, otu_id: str, document: dict | None) -> None:
        if document is None:
            OTU.objects.filter(id=otu_id).delete()
        else:
            otu_document_restore(document=document)


otu_store = OtuStore()
