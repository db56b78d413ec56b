"""Changing an OTU's isolates and their sequences; each change records one Change of the
OTU (through the machinery of refs.services.otus)."""

import re

from django.db import transaction

from refs.models import OTU, Isolate, Reference, Sequence, isolate_name
from refs.services.otus import otu_commit, otu_lock
from virtool_site.errors import BadRequest, NotFound
from virtool_site.ids import random_id

#: IUPAC nucleotide codes (gaps are not sequence data).
IUPAC_NUCLEOTIDES = re.compile(r"^[ACGTURYSWKMBDHVN]+$")


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


def _row_update(row, fields: dict) -> None:
    """Set and save just these fields of an isolate or sequence row."""
    for field, value in fields.items():
        setattr(row, field, value)
    row.save(update_fields=list(fields))


def sequence_clean(sequence: str) -> str:
    """Upper-cased without whitespace; ValueError unless it is IUPAC nucleotide codes."""
    cleaned = re.sub(r"\s+", "", sequence or "").upper()
    if not IUPAC_NUCLEOTIDES.match(cleaned):
        raise ValueError("Sequence may only contain IUPAC nucleotide codes")
    return cleaned


# Isolates ------------------------------------------------------------------------------------


@transaction.atomic
def isolate_add(*, user, otu_id: str, source_type: str = "", source_name: str = "", default: bool = False) -> Isolate:
    """A new isolate at the end; the first isolate of an OTU is always its default."""
    otu, old = otu_lock(user=user, otu_id=otu_id)
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
    otu_commit(user=user, otu=otu, old=old, method_name="add_isolate", description=description)
    return isolate


@transaction.atomic
def isolate_edit(
    *, user, otu_id: str, isolate_id: str, source_type: str | None = None, source_name: str | None = None
) -> Isolate:
    """Rename an isolate; nothing is recorded when nothing changes."""
    otu, old = otu_lock(user=user, otu_id=otu_id)
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
    _row_update(isolate, fields)
    description = f"Renamed {old_name} to {isolate_name(isolate.source_type, isolate.source_name)}"
    otu_commit(user=user, otu=otu, old=old, method_name="edit_isolate", description=description)
    return isolate


@transaction.atomic
def isolate_remove(*, user, otu_id: str, isolate_id: str) -> None:
    """Remove an isolate and its sequences; when it was the default, the first remaining one is."""
    otu, old = otu_lock(user=user, otu_id=otu_id)
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
    otu_commit(user=user, otu=otu, old=old, method_name="remove_isolate", description=description)


@transaction.atomic
def isolate_set_default(*, user, otu_id: str, isolate_id: str) -> Isolate:
    """Make the isolate the OTU's default; nothing is recorded when it already is."""
    otu, old = otu_lock(user=user, otu_id=otu_id)
    isolate = _isolate_get(otu, isolate_id)
    if isolate.default:
        return isolate
    Isolate.objects.filter(otu=otu, default=True).update(default=False)
    isolate.default = True
    isolate.save(update_fields=["default"])
    description = f"Set {isolate_name(isolate.source_type, isolate.source_name)} as default"
    otu_commit(user=user, otu=otu, old=old, method_name="set_as_default", description=description)
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
    otu, old = otu_lock(user=user, otu_id=otu_id)
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
    otu_commit(user=user, otu=otu, old=old, method_name="create_sequence", description=description)
    return created


SEQUENCE_EDITABLE = ("accession", "definition", "host", "segment", "sequence")


@transaction.atomic
def sequence_edit(*, user, otu_id: str, isolate_id: str, sequence_id: str, **changes) -> Sequence:
    """Change a sequence's fields; nothing is recorded when nothing changes."""
    unknown = set(changes) - set(SEQUENCE_EDITABLE)
    if unknown:
        raise ValueError(f"not editable: {sorted(unknown)}")
    otu, old = otu_lock(user=user, otu_id=otu_id)
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
    _row_update(sequence, fields)
    description = f"Edited sequence {sequence.accession} in {isolate_name(isolate.source_type, isolate.source_name)}"
    otu_commit(user=user, otu=otu, old=old, method_name="edit_sequence", description=description)
    return sequence


@transaction.atomic
def sequence_remove(*, user, otu_id: str, isolate_id: str, sequence_id: str) -> None:
    otu, old = otu_lock(user=user, otu_id=otu_id)
    isolate = _isolate_get(otu, isolate_id)
    sequence = Sequence.objects.filter(isolate=isolate, id=sequence_id).first()
    if sequence is None:
        raise NotFound()
    accession = sequence.accession
    sequence.delete()
    description = f"Removed sequence {accession} from {isolate_name(isolate.source_type, isolate.source_name)}"
    otu_commit(user=user, otu=otu, old=old, method_name="remove_sequence", description=description)
