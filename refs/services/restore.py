"""Writing a joined OTU document back (history's revert), and the OTU store history's revert
is handed so that history never imports refs (settings.HISTORY_OTU_STORE)."""

from django.db import transaction

from refs.documents import otu_document_load
from refs.models import OTU, Isolate, Sequence
from refs.permissions import reference_rights_check, references_visible
from refs.revisions import reference_revision_bump_live
from refs.services.otus import otu_name_abbreviation_message, otu_unique_write
from virtool_site.errors import Conflict, NotFound


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
    otu = otu_unique_write(
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
        the OTU row (if the OTU exists) and return its joined document; 404 when the
        reference was deleted while we waited for its lock."""
        reference_revision_bump_live(reference_id=reference_id)
        if not list(OTU.objects.select_for_update().filter(id=otu_id).values_list("id", flat=True)):
            return None
        return otu_document_load(otu_id)

    def write(self, *, otu_id: str, document: dict | None) -> None:
        if document is None:
            OTU.objects.filter(id=otu_id).delete()
        else:
            otu_document_restore(document=document)


otu_store = OtuStore()
