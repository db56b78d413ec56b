"""Reading indexes: visibility, list documents, the detail document and the manifest state.

The manifest state is what a build writes: every OTU of the manifest at its manifest version.
OTUs may be edited while a build runs, so an OTU whose current version is past its manifest
version is read back from history.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from django.db import connection, transaction
from django.db.models import Count, IntegerField, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce

from history.models import Change
from history.selectors import changes_shown, otu_document_at_version
from indexes.models import Index, IndexFile
from refs.documents import otu_document, otu_document_load, otus_with_children
from refs.models import OTU, Sequence
from refs.permissions import references_visible
from refs.revisions import revision_visible
from virtool_site.errors import InsufficientRights, NotFound
from virtool_site.files import data_path

#: The files a complete index has. Virtool's docs name the fourth bowtie2 file
#: `reference.4.bt4` (a typo); both that name and the real `reference.4.bt2` are accepted, and
#: the file is kept as `reference.4.bt2`, the name bowtie2 looks for.
INDEX_FILE_TYPES = {
    "reference.json.gz": IndexFile.Type.JSON,
    "reference.fa.gz": IndexFile.Type.FASTA,
    "reference.1.bt2": IndexFile.Type.BOWTIE2,
    "reference.2.bt2": IndexFile.Type.BOWTIE2,
    "reference.3.bt2": IndexFile.Type.BOWTIE2,
    "reference.4.bt2": IndexFile.Type.BOWTIE2,
    "reference.4.bt4": IndexFile.Type.BOWTIE2,
    "reference.rev.1.bt2": IndexFile.Type.BOWTIE2,
    "reference.rev.2.bt2": IndexFile.Type.BOWTIE2,
}
BOWTIE2_FILE_NAMES = (
    "reference.1.bt2",
    "reference.2.bt2",
    "reference.3.bt2",
    "reference.4.bt2",
    "reference.rev.1.bt2",
    "reference.rev.2.bt2",
)
#: Names accepted on upload that are stored under another name.
INDEX_FILE_STORED_NAMES = {"reference.4.bt4": "reference.4.bt2"}
#: Required for finalizing, each with the names that satisfy it (rows stored before uploads
#: were renamed may still say `reference.4.bt4`).
REQUIRED_INDEX_FILES = {
    "reference.json.gz": ("reference.json.gz",),
    "reference.fa.gz": ("reference.fa.gz",),
    **{name: (name,) for name in BOWTIE2_FILE_NAMES},
    "reference.4.bt2": ("reference.4.bt2", "reference.4.bt4"),
}

MANIFEST_CHUNK_SIZE = 500


def index_directory(index: Index) -> Path:
    return data_path("references", index.reference_id, index.id)


def index_file_path(index: Index, name: str) -> Path:
    return data_path("references", index.reference_id, index.id, name)


def index_missing_files(index: Index) -> list[str]:
    present = set(IndexFile.objects.filter(index=index).values_list("name", flat=True))
    return [name for name, accepted in REQUIRED_INDEX_FILES.items() if not present.intersection(accepted)]


# Visibility --------------------------------------------------------------------------------


def indexes_visible(user) -> QuerySet[Index]:
    """Indexes of the live references the user may see."""
    return Index.objects.filter(reference__in=references_visible(user))


def index_for_request(*, user, index_id: str, detail: bool = False) -> Index:
    """The index a user (if they see its reference) or its own job runner may read.

    Without its manifest (an entry per OTU of the reference), unless `detail`: the detail
    document shows the manifest and the job, so they are read with the index, once.

    A job runner gets 404 for an index that does not exist and 403 for another job's index.
    """
    is_job = getattr(user, "is_job", False)
    indexes = Index.objects.all() if is_job else indexes_visible(user)
    if detail:
        indexes = indexes.select_related("reference", "user", "job")
    else:
        indexes = indexes.select_related("reference", "user").defer("manifest")
    index = indexes.filter(id=index_id).first()
    if index is None:
        raise NotFound()
    if is_job and index.job_id != user.job.id:
        raise InsufficientRights()
    return index


def index_reference_revision_visible(*, user, index_id: str) -> tuple[str, int, bool] | None:
    """(reference id, revision, whether the index is ready) of an index `user` may see, in one
    query (the key of its cached answer); None otherwise."""
    found = revision_visible(user=user, model=Index, object_id=index_id, columns=("ready",))
    return (found[0], found[1], bool(found[2])) if found else None


def index_for_job_api(*, user, index_id: str, lock: bool = False) -> Index:
    """The index a Job API write may touch: its own job runner's, or any for an administrator."""
    queryset = Index.objects.select_for_update() if lock else Index.objects.all()
    index = queryset.filter(id=index_id).first()
    if index is None:
        raise NotFound()
    if getattr(user, "is_job", False):
        if index.job_id != user.job.id:
            raise InsufficientRights()
    elif not getattr(user, "is_superuser", False):
        raise InsufficientRights()
    return index


# Lists -------------------------------------------------------------------------------------


def index_list_queryset(queryset: QuerySet[Index]) -> QuerySet[Index]:
    """List documents in one query: change counts are subqueries on each index's changes (no
    join and grouping of every change of every index, so counting the list stays cheap), and
    the manifest is not loaded."""
    changes = Change.objects.filter(index=OuterRef("pk")).order_by().values("index")
    return (
        queryset.select_related("user")
        .defer("manifest")
        .annotate(
            change_count=_subquery_count(changes.annotate(count=Count("*"))),
            modified_otu_count=_subquery_count(changes.annotate(count=Count("otu_id", distinct=True))),
        )
        .order_by("-created_at", "-version")
    )


def _subquery_count(counted: QuerySet):
    return Coalesce(Subquery(counted.values("count"), output_field=IntegerField()), Value(0))


def unbuilt_stats(*, reference_ids) -> dict:
    """Virtool's unbuilt figures for the given references (ids or a subquery of ids)."""
    changes = Change.objects.filter(index__isnull=True, reference_id__in=reference_ids).aggregate(
        change_count=Count("id"), modified_otu_count=Count("otu_id", distinct=True)
    )
    total_otu_count = OTU.objects.filter(reference_id__in=reference_ids).count()
    return {
        "change_count": changes["change_count"],
        "modified_otu_count": changes["modified_otu_count"],
        "modified_kind_count": changes["modified_otu_count"],
        "total_otu_count": total_otu_count,
    }


def index_changes(index: Index) -> QuerySet[Change]:
    return changes_shown(Change.objects.filter(index=index)).order_by("otu_name", "-otu_version")


# Detail ------------------------------------------------------------------------------------


def index_detail(index: Index) -> Index:
    """Attach what the detail document shows: counts, contributors, changed OTUs and files.

    Three queries whatever the size of the index: its changes (three small columns of each,
    from which the counts come too), the contributors, the files.
    """
    changes = Change.objects.filter(index=index)
    counts: dict[str, int] = {}
    latest: dict[str, tuple[int, str]] = {}
    for otu_id, name, version in changes.order_by().values_list("otu_id", "otu_name", "otu_version"):
        counts[otu_id] = counts.get(otu_id, 0) + 1
        seen = latest.get(otu_id)
        if seen is None or version > seen[0]:
            # The name at the OTU's latest change is its current one.
            latest[otu_id] = (version, name)
    index.change_count = sum(counts.values())
    index.modified_otu_count = len(counts)
    index.contributors = [
        {"id": row["user__username"], "count": row["count"]}
        for row in changes.filter(user__isnull=False)
        .values("user__username")
        .annotate(count=Count("id"))
        .order_by("-count", "user__username")
    ]
    manifest = index.manifest
    # By name (case-insensitive), then id: sorted as plain tuples, without a key function call
    # per OTU (an index may hold thousands).
    ordered = sorted((name.lower(), otu_id, name, version) for otu_id, (version, name) in latest.items())
    index.changed_otus = [
        {"id": otu_id, "name": name, "version": manifest.get(otu_id, version), "change_count": counts[otu_id]}
        for _, otu_id, name, version in ordered
    ]
    index.file_list = list(IndexFile.objects.filter(index=index).order_by("id"))
    return index


# Manifest state ----------------------------------------------------------------------------


@contextmanager
def consistent_read():
    """One snapshot for a multi-query read: REPEATABLE READ on PostgreSQL.

    An OTU and its isolates and sequences are read by separate queries; without a snapshot an
    edit committed between them would tear the document.
    """
    if connection.in_atomic_block:
        with transaction.atomic():
            yield
        return
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        yield


def _current_versions(index: Index) -> dict[str, int]:
    return dict(OTU.objects.filter(reference_id=index.reference_id).values_list("id", "version"))


def _document_at_manifest(otu_id: str, version: int, current: dict | None) -> dict | None:
    if current is not None and current["version"] == version:
        return current
    return otu_document_at_version(otu_id=otu_id, version=version, current=current)


def manifest_documents(index: Index, *, chunk_size: int = MANIFEST_CHUNK_SIZE) -> Iterator[dict]:
    """Joined OTU documents of the manifest at their manifest versions, ordered by OTU id.

    Call inside `consistent_read()`. Loads `chunk_size` OTUs at a time (three queries each).
    """
    otu_ids = sorted(index.manifest)
    for start in range(0, len(otu_ids), chunk_size):
        chunk = otu_ids[start : start + chunk_size]
        current = {otu.id: otu_document(otu) for otu in otus_with_children(OTU.objects.filter(id__in=chunk))}
        for otu_id in chunk:
            document = _document_at_manifest(otu_id, index.manifest[otu_id], current.get(otu_id))
            if document is not None:
                yield document


def manifest_default_sequences(index: Index, *, chunk_size: int = 2000) -> Iterator[tuple[str, str]]:
    """(sequence id, sequence) of the default isolates at the manifest state.

    The FASTA is on the build's critical path, so OTUs still at their manifest version are
    read with one streamed query of default-isolate sequences only; the few edited since come
    from history. Call inside `consistent_read()`.
    """
    manifest = index.manifest
    current_versions = _current_versions(index)
    unchanged = {otu_id for otu_id, version in manifest.items() if current_versions.get(otu_id) == version}
    rows = (
        Sequence.objects.filter(otu__reference_id=index.reference_id, isolate__default=True)
        .order_by("otu_id", "position")
        .values_list("otu_id", "id", "sequence")
        .iterator(chunk_size=chunk_size)
    )
    for otu_id, sequence_id, sequence in rows:
        if otu_id in unchanged:
            yield sequence_id, sequence
    for otu_id in sorted(set(manifest) - unchanged):
        document = _document_at_manifest(otu_id, manifest[otu_id], otu_document_load(otu_id))
        for isolate in (document or {}).get("isolates") or []:
            if isolate.get("default"):
                for sequence in isolate.get("sequences") or []:
                    yield sequence["_id"], sequence["sequence"]


def unfinished_build_exists(reference_id: str) -> bool:
    return (
        Index.objects.filter(reference_id=reference_id, ready=False, job__isnull=False)
        .exclude(job__state__in=("complete", "error", "cancelled"))
        .exists()
    )


def dead_builds(reference_id: str) -> QuerySet[Index]:
    """Unready indexes nothing will finish: their job ended (or is gone) without finalizing."""
    return Index.objects.filter(reference_id=reference_id, ready=False).filter(
        Q(job__isnull=True) | Q(job__state__in=("complete", "error", "cancelled"))
    )
