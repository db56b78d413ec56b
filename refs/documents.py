"""The joined OTU document: the OTU with its isolates and their sequences, in order.

It is what history diffs are computed on, what revert restores, and what the OTU endpoints
return. Loading many documents costs a fixed three queries.
"""

from collections.abc import Iterable

from django.db.models import Prefetch, QuerySet

from refs.models import OTU, Isolate, Sequence


def otus_with_children(queryset: QuerySet[OTU]) -> QuerySet[OTU]:
    """Prefetch isolates and sequences in their stable order."""
    return queryset.prefetch_related(
        Prefetch(
            "isolates",
            queryset=Isolate.objects.order_by("position").prefetch_related(
                Prefetch("sequences", queryset=Sequence.objects.order_by("position"))
            ),
        )
    )


def sequence_document(sequence: Sequence) -> dict:
    document = {
        "_id": sequence.id,
        "accession": sequence.accession,
        "definition": sequence.definition,
        "host": sequence.host,
        "segment": sequence.segment,
        "sequence": sequence.sequence,
    }
    if sequence.remote_id:
        document["remote"] = {"id": sequence.remote_id}
    return document


def isolate_document(isolate: Isolate) -> dict:
    return {
        "id": isolate.isolate_id,
        "source_type": isolate.source_type,
        "source_name": isolate.source_name,
        "default": isolate.default,
        "sequences": [sequence_document(s) for s in isolate.sequences.all()],
    }


def otu_document(otu: OTU, *, isolates: list[dict] | None = None) -> dict:
    """The joined document of an OTU; prefetch with `otus_with_children` when loading many.

    `isolates`: the isolate documents when the caller has already read them another way.
    """
    document = {
        "_id": otu.id,
        "name": otu.name,
        "abbreviation": otu.abbreviation,
        "schema": otu.schema,
        "taxid": otu.taxid,
        "version": otu.version,
        "verified": otu.verified,
        "imported": otu.imported,
        "last_indexed_version": otu.last_indexed_version,
        "reference": {"id": otu.reference_id},
        "isolates": isolates if isolates is not None else [isolate_document(i) for i in otu.isolates.all()],
    }
    if otu.remote_id:
        document["remote"] = {"id": otu.remote_id}
    return document


def otu_document_load(otu_id: str) -> dict | None:
    otu = otus_with_children(OTU.objects.filter(id=otu_id)).first()
    return otu_document(otu) if otu else None


def otu_documents_iter(queryset: QuerySet[OTU], *, chunk_size: int = 500) -> Iterable[dict]:
    """Joined documents of many OTUs, loaded a chunk at a time to keep memory flat."""
    ids = list(queryset.order_by("id").values_list("id", flat=True))
    for start in range(0, len(ids), chunk_size):
        chunk = otus_with_children(OTU.objects.filter(id__in=ids[start : start + chunk_size]).order_by("id"))
        for otu in chunk:
            yield otu_document(otu)


def otu_issues(document: dict) -> dict | None:
    """Virtool's verification of a joined OTU document; None when the OTU is verified."""
    isolates = document.get("isolates") or []
    empty_isolate = [i["id"] for i in isolates if not i.get("sequences")]
    empty_sequence = [
        s["_id"] for i in isolates for s in i.get("sequences") or [] if not (s.get("sequence") or "").strip()
    ]
    issues = {
        "empty_otu": not isolates,
        "empty_isolate": empty_isolate,
        "empty_sequence": empty_sequence,
        "isolate_inconsistency": len({len(i.get("sequences") or []) for i in isolates}) > 1,
    }
    return issues if any(issues.values()) else None
