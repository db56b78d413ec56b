"""Reading references and OTUs for the API, in a fixed number of queries per request."""

from functools import cache

from django.db.models import BooleanField, Case, Count, Exists, F, IntegerField, OuterRef, QuerySet, Subquery, Value, When
from django.db.models.functions import Coalesce

from history.models import Change
from history.selectors import otu_most_recent_change, reference_contributors
from indexes.models import Index, IndexFile
from refs.documents import otu_document, otu_issues
from refs.models import OTU, Isolate, Reference, ReferenceGroup, ReferenceUser, Sequence
from refs.permissions import references_visible
from virtool_site.errors import NotFound


def _count(queryset: QuerySet, group_field: str):
    """A correlated COUNT(*) subquery (0 when there are no rows)."""
    counted = queryset.order_by().values(group_field).annotate(count=Count("*")).values("count")
    return Coalesce(Subquery(counted, output_field=IntegerField()), Value(0))


@cache
def _reference_annotations() -> dict:
    """The annotations of a reference row, built once: an expression is copied when a queryset
    resolves it, so the same ones serve every request (building them cost as much as running
    the query)."""
    return {
        "otu_count": _count(OTU.objects.filter(reference=OuterRef("pk")), "reference"),
        "unbuilt_change_count": _count(
            Change.objects.filter(reference_id=OuterRef("pk"), index__isnull=True), "reference_id"
        ),
        "latest_build_id": Subquery(
            Index.objects.filter(reference=OuterRef("pk"), ready=True).order_by("-version").values("id")[:1]
        ),
    }


@cache
def _has_json_annotation() -> Exists:
    return Exists(IndexFile.objects.filter(index=OuterRef("pk"), type=IndexFile.Type.JSON))


def references_annotated(queryset: QuerySet[Reference]) -> QuerySet[Reference]:
    return queryset.select_related("user").annotate(**_reference_annotations())


def references_list(*, user) -> QuerySet[Reference]:
    """The references the user may see, newest first, annotated for the API."""
    return references_annotated(references_visible(user)).order_by("-created_at", "id")


def references_attach(references: list[Reference], *, detail: bool = False) -> list[Reference]:
    """Attach what the API shows beside the row: latest build (one query for all references),
    and for the detail view rights entries, contributors and the internal control."""
    build_ids = [r.latest_build_id for r in references if getattr(r, "latest_build_id", None)]
    builds = {}
    if build_ids:
        builds = {
            index.id: index
            for index in Index.objects.filter(id__in=build_ids)
            .select_related("user")
            .only("id", "version", "created_at", "user", "user__username")
            .annotate(has_json=_has_json_annotation())
        }
    for reference in references:
        reference.latest_build = builds.get(getattr(reference, "latest_build_id", None))
    if detail:
        for reference in references:
            reference.user_entries = list(ReferenceUser.objects.filter(reference=reference).select_related("user"))
            reference.group_entries = list(ReferenceGroup.objects.filter(reference=reference).select_related("group"))
            reference.contributors = reference_contributors(reference_id=reference.id)
            control = None
            if reference.internal_control:
                control = OTU.objects.filter(id=reference.internal_control, reference=reference).first()
            reference.internal_control_otu = control
    return references


def reference_detail(*, user, reference_id: str) -> Reference:
    """The reference with everything GET /api/refs/{id} shows; NotFound when not visible."""
    reference = references_annotated(references_visible(user)).filter(id=reference_id).first()
    if reference is None:
        raise NotFound()
    return references_attach([reference], detail=True)[0]


def reference_members(*, reference: Reference, kind: str) -> list:
    if kind == "user":
        return list(ReferenceUser.objects.filter(reference=reference).select_related("user"))
    return list(ReferenceGroup.objects.filter(reference=reference).select_related("group"))


# OTUs --------------------------------------------------------------------------------------


#: What an OTU list item shows (not the schema or anything else of the row).
OTU_LIST_FIELDS = ("id", "name", "abbreviation", "verified", "version", "reference_id")


def otus_list(*, reference: Reference) -> QuerySet[OTU]:
    return OTU.objects.filter(reference=reference).only(*OTU_LIST_FIELDS).order_by("name", "id")


def otus_attach_issues(otus: list[OTU]) -> list[OTU]:
    """Set `issues` (as `otu_issues` gives them) on a page of OTUs, in at most one query
    whatever its size, without loading sequence data: a row per sequence of the page's
    unverified OTUs' isolates (or per isolate without sequences), flagged when empty.

    A verified OTU has no issues: every write keeps `verified` equal to "`otu_issues` finds
    none" (refs.services, imports, clones, remotes, reverts), so only unverified OTUs are read.
    """
    ids = [otu.id for otu in otus if not otu.verified]
    counts: dict[str, dict[str, int]] = {otu_id: {} for otu_id in ids}
    empty_sequences: dict[str, list[str]] = {otu_id: [] for otu_id in ids}
    if ids:
        rows = (
            Isolate.objects.filter(otu_id__in=ids)
            .annotate(
                sequence_id=F("sequences__id"),
                sequence_empty=Case(
                    When(sequences__sequence__regex=r"^\s*$", then=Value(True)),
                    default=Value(False),
                    output_field=BooleanField(),
                ),
            )
            .order_by("otu_id", "position", "sequences__position")
            .values_list("otu_id", "isolate_id", "sequence_id", "sequence_empty")
        )
        for otu_id, isolate_id, sequence_id, empty in rows:
            isolates = counts[otu_id]
            isolates[isolate_id] = isolates.get(isolate_id, 0) + (sequence_id is not None)
            if empty:
                empty_sequences[otu_id].append(sequence_id)
    for otu in otus:
        if otu.verified:
            otu.issues = None
            continue
        isolates = counts[otu.id]
        issues = {
            "empty_otu": not isolates,
            "empty_isolate": [isolate_id for isolate_id, count in isolates.items() if not count],
            "empty_sequence": empty_sequences[otu.id],
            "isolate_inconsistency": len(set(isolates.values())) > 1,
        }
        otu.issues = issues if any(issues.values()) else None
    return otus


def otu_visible(*, user, otu_id: str) -> OTU:
    """The OTU, when the user may see its reference; else NotFound."""
    otu = OTU.objects.filter(id=otu_id, reference__in=references_visible(user)).first()
    if otu is None:
        raise NotFound()
    return otu


def _sequence_api(sequence: dict) -> dict:
    return {
        "id": sequence["_id"],
        "accession": sequence["accession"],
        "definition": sequence["definition"],
        "host": sequence["host"],
        "segment": sequence.get("segment"),
        "sequence": sequence["sequence"],
    }


def isolate_api_document(isolate: dict) -> dict:
    return {
        "id": isolate["id"],
        "source_type": isolate["source_type"],
        "source_name": isolate["source_name"],
        "default": isolate["default"],
        "sequences": [_sequence_api(s) for s in isolate["sequences"]],
    }


def otu_api_document(document: dict, *, most_recent_change: Change | None = None) -> dict:
    """The API form of a joined OTU document: `id`s instead of `_id`s, with `issues`."""
    recent = None
    if most_recent_change is not None:
        recent = {
            "id": most_recent_change.id,
            "method_name": most_recent_change.method_name,
            "description": most_recent_change.description,
            "created_at": most_recent_change.created_at,
            "user": {"id": most_recent_change.user.username} if most_recent_change.user else None,
        }
    return {
        "id": document["_id"],
        "name": document["name"],
        "abbreviation": document["abbreviation"],
        "schema": document["schema"],
        "taxid": document.get("taxid"),
        "version": document["version"],
        "verified": document["verified"],
        "imported": document.get("imported", False),
        "last_indexed_version": document.get("last_indexed_version"),
        "reference": {"id": document["reference"]["id"]},
        "isolates": [isolate_api_document(i) for i in document["isolates"]],
        "issues": otu_issues(document),
        "most_recent_change": recent,
    }


def _isolate_documents(otu_id: str) -> list[dict]:
    """The OTU's isolates with their sequences, as in its joined document (`otu_document`), in
    one query: isolates joined to their sequences, both in their stable order."""
    rows = (
        Isolate.objects.filter(otu_id=otu_id)
        .order_by("position", "sequences__position")
        .values_list(
            "pk",
            "isolate_id",
            "source_type",
            "source_name",
            "default",
            "sequences__id",
            "sequences__accession",
            "sequences__definition",
            "sequences__host",
            "sequences__segment",
            "sequences__sequence",
            "sequences__remote_id",
        )
    )
    isolates: dict[int, dict] = {}
    for (
        pk, isolate_id, source_type, source_name, default,
        sequence_id, accession, definition, host, segment, sequence, remote_id,
    ) in rows:
        isolate = isolates.get(pk)
        if isolate is None:
            isolate = isolates[pk] = {
                "id": isolate_id,
                "source_type": source_type,
                "source_name": source_name,
                "default": default,
                "sequences": [],
            }
        if sequence_id is not None:
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
            isolate["sequences"].append(document)
    return list(isolates.values())


def otu_detail(*, user, otu_id: str) -> dict:
    """GET /api/otus/{id}: the joined OTU with issues and its most recent change."""
    otu = OTU.objects.filter(id=otu_id, reference__in=references_visible(user)).first()
    if otu is None:
        raise NotFound()
    document = otu_document(otu, isolates=_isolate_documents(otu.id))
    return otu_api_document(document, most_recent_change=otu_most_recent_change(otu_id=otu.id))


def isolates_list(*, user, otu_id: str) -> list[dict]:
    if not OTU.objects.filter(id=otu_id, reference__in=references_visible(user)).exists():
        raise NotFound()
    return [isolate_api_document(i) for i in _isolate_documents(otu_id)]


def _isolate_visible(*, user, otu_id: str, isolate_id: str) -> Isolate:
    isolate = (
        Isolate.objects.filter(otu_id=otu_id, isolate_id=isolate_id, otu__reference__in=references_visible(user))
        .select_related("otu")
        .first()
    )
    if isolate is None:
        raise NotFound()
    return isolate


def isolate_detail(*, user, otu_id: str, isolate_id: str) -> dict:
    isolate = _isolate_visible(user=user, otu_id=otu_id, isolate_id=isolate_id)
    sequences = Sequence.objects.filter(isolate=isolate).order_by("position")
    return isolate_api_document(
        {
            "id": isolate.isolate_id,
            "source_type": isolate.source_type,
            "source_name": isolate.source_name,
            "default": isolate.default,
            "sequences": [
                {
                    "_id": s.id,
                    "accession": s.accession,
                    "definition": s.definition,
                    "host": s.host,
                    "segment": s.segment,
                    "sequence": s.sequence,
                }
                for s in sequences
            ],
        }
    )


def sequence_api_document(sequence: Sequence, *, isolate_id: str, reference_id: str) -> dict:
    return {
        "id": sequence.id,
        "accession": sequence.accession,
        "definition": sequence.definition,
        "host": sequence.host,
        "segment": sequence.segment,
        "sequence": sequence.sequence,
        "otu_id": sequence.otu_id,
        "isolate_id": isolate_id,
        "reference": {"id": reference_id},
    }


def sequences_list(*, user, otu_id: str, isolate_id: str) -> list[dict]:
    isolate = _isolate_visible(user=user, otu_id=otu_id, isolate_id=isolate_id)
    return [
        sequence_api_document(s, isolate_id=isolate.isolate_id, reference_id=isolate.otu.reference_id)
        for s in Sequence.objects.filter(isolate=isolate).order_by("position")
    ]


def sequence_detail(*, user, otu_id: str, isolate_id: str, sequence_id: str) -> dict:
    isolate = _isolate_visible(user=user, otu_id=otu_id, isolate_id=isolate_id)
    sequence = Sequence.objects.filter(isolate=isolate, id=sequence_id).first()
    if sequence is None:
        raise NotFound()
    return sequence_api_document(sequence, isolate_id=isolate.isolate_id, reference_id=isolate.otu.reference_id)

