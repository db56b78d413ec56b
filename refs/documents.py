"""The joined OTU document: the OTU with its isolates and their sequences, in order.

It is what history diffs are computed on, what revert restores, and what the OTU endpoints
return. Loading many documents costs a fixed two queries: the OTUs, and their isolates joined to
their sequences (`isolate_documents_read`); `otus_with_children` prefetches the same for code
that holds model instances. Either way the documents are written by `isolate_document_of` and
`sequence_document_of`.
"""

from collections.abc import Iterable

from django.db import connection
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
    return sequence_document_of(
        sequence.id, sequence.accession, sequence.definition, sequence.host, sequence.segment, sequence.sequence,
        sequence.remote_id,
    )


def sequence_document_of(sequence_id, accession, definition, host, segment, sequence, remote_id) -> dict:
    """The sequence document from its values: the one place its shape is written."""
    document = {
        "_id": sequence_id,
        "accession": accession,
        "definition": definition,
        "host": host,
        "segment": segment,
        "sequence": sequence,
    }
    if remote_id:
        document["remote"] = {"id": remote_id}
    return document


def isolate_document(isolate: Isolate) -> dict:
    return isolate_document_of(
        isolate.isolate_id,
        isolate.source_type,
        isolate.source_name,
        isolate.default,
        [sequence_document(s) for s in isolate.sequences.all()],
    )


def isolate_document_of(isolate_id, source_type, source_name, default, sequences: list[dict]) -> dict:
    """The isolate document from its values: the one place its shape is written."""
    return {
        "id": isolate_id,
        "source_type": source_type,
        "source_name": source_name,
        "default": bool(default),
        "sequences": sequences,
    }


#: Isolates joined to their sequences, in their stable order (params: the OTU ids).
_ISOLATES_SQL = """
SELECT i.otu_id, i.id, i.isolate_id, i.source_type, i.source_name, i."default",
       s.id, s.accession, s.definition, s.host, s.segment, s.sequence, s.remote_id
FROM refs_isolate i LEFT JOIN refs_sequence s ON s.isolate_id = i.id
WHERE i.otu_id IN ({ids})
ORDER BY i.otu_id, i.position, s.position
"""


def isolate_documents_read(otu_ids) -> dict[str, list[dict]]:
    """{OTU id: its isolate documents, as in its joined document} in one query, without models:
    isolates joined to their sequences. OTUs without isolates are left out."""
    otu_ids = list(otu_ids)
    if not otu_ids:
        return {}
    with connection.cursor() as cursor:
        cursor.execute(_ISOLATES_SQL.format(ids=", ".join(["%s"] * len(otu_ids))), otu_ids)
        found = cursor.fetchall()
    documents: dict[str, list[dict]] = {}
    current = None
    for otu_id, pk, isolate_id, source_type, source_name, default, *sequence in found:
        if current is None or current[0] != pk:
            current = (pk, isolate_document_of(isolate_id, source_type, source_name, default, []))
            documents.setdefault(otu_id, []).append(current[1])
        if sequence[0] is not None:
            current[1]["sequences"].append(sequence_document_of(*sequence))
    return documents


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
    """The OTU's joined document (two queries), or None."""
    otu = OTU.objects.filter(id=otu_id).first()
    if otu is None:
        return None
    return otu_document(otu, isolates=isolate_documents_read([otu.id]).get(otu.id, []))


def otu_documents_read(otu_ids) -> dict[str, dict]:
    """{OTU id: its joined document} of the OTUs that exist, in two queries."""
    otus = list(OTU.objects.filter(id__in=list(otu_ids)).order_by("id"))
    isolates = isolate_documents_read(otu.id for otu in otus)
    return {otu.id: otu_document(otu, isolates=isolates.get(otu.id, [])) for otu in otus}


def otu_documents_iter(queryset: QuerySet[OTU], *, chunk_size: int = 500) -> Iterable[dict]:
    """Joined documents of many OTUs, by id, loaded a chunk at a time (two queries each) to keep
    memory flat."""
    ids = list(queryset.order_by("id").values_list("id", flat=True))
    for start in range(0, len(ids), chunk_size):
        yield from otu_documents_read(ids[start : start + chunk_size]).values()


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
