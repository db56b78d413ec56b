"""Reading indexes: visibility, list documents, the detail document and the manifest state.

The manifest state is what a build writes: every OTU of the manifest at its manifest version.
OTUs may be edited while a build runs, so an OTU whose current version is past its manifest
version is read back from history.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from django.db import connection, transaction
from django.db.models import Q, QuerySet

from history.selectors import otu_document_at_version
from indexes.models import Index, IndexFile
from refs.documents import otu_document_load, otu_documents_read
from refs.models import OTU, Sequence
from refs.permissions import references_visible, references_visible_sql
from virtool_site.errors import InsufficientRights, NotFound
from virtool_site.files import data_path
from virtool_site.api.renderers import JsonText
from virtool_site.reads import api_time, flag, json_ints, page_read, placeholders, row, rows

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


def index_key_prefix(index: Index) -> str:
    """Where an index's files are stored: `references/{reference_id}/{index_id}/{name}`."""
    return f"references/{index.reference_id}/{index.id}"


def index_file_key(index: Index, name: str) -> str:
    return f"{index_key_prefix(index)}/{name}"


def index_build_scratch(index: Index) -> Path:
    """The build's work directory on the worker (FASTA, bowtie2-build's output), named after
    the index so a redelivered build finds what a dead one left behind on this host."""
    return data_path("tmp", "builds", index.id)


def index_directory(index: Index) -> Path:
    """The index's files on local storage (the embedded default; tests and tools read them)."""
    return data_path("references", index.reference_id, index.id)


def index_file_path(index: Index, name: str) -> Path:
    """One file of the index on local storage (see `index_directory`)."""
    return data_path("references", index.reference_id, index.id, name)


def index_keys_live(keys: list[str]) -> set[str]:
    """Of stored keys `references/{ref}/{index}/{name}`, those to keep (storage sweep): every
    file of an unfinished build (the build or its failure deals with them), and the files of a
    ready index that rows name."""
    parsed = {}
    for key in keys:
        parts = key.split("/")
        if len(parts) == 4:
            parsed[key] = (parts[2], parts[3])
    indexes = dict(Index.objects.filter(id__in={i for i, _ in parsed.values()}).values_list("id", "ready"))
    named = set(
        IndexFile.objects.filter(index_id__in=[i for i, ready in indexes.items() if ready]).values_list("index_id", "name")
    )
    return {
        key for key, (index_id, name) in parsed.items()
        if index_id in indexes and (not indexes[index_id] or (index_id, name) in named)
    }


def index_missing_files(index: Index) -> list[str]:
    present = set(IndexFile.objects.filter(index=index).values_list("name", flat=True))
    return [name for name, accepted in REQUIRED_INDEX_FILES.items() if not present.intersection(accepted)]


# Visibility --------------------------------------------------------------------------------


def indexes_visible(user) -> QuerySet[Index]:
    """Indexes of the live references the user may see."""
    return Index.objects.filter(reference__in=references_visible(user))


def index_for_request(*, user, index_id: str) -> Index:
    """The index a user (if they see its reference) or its own job runner may read, without
    its manifest (an entry per OTU of the reference) or its stored summary of changes.

    A job runner gets 404 for an index that does not exist and 403 for another job's index.
    """
    is_job = getattr(user, "is_job", False)
    indexes = Index.objects.all() if is_job else indexes_visible(user)
    indexes = indexes.select_related("reference", "user").defer("manifest", "changed_otus", "contributor_counts")
    index = indexes.filter(id=index_id).first()
    if index is None:
        raise NotFound()
    if is_job and index.job_id != user.job.id:
        raise InsufficientRights()
    return index


def index_visible_check(*, user, index_id: str) -> None:
    """NotFound unless the index exists and `user` sees its reference (one query)."""
    visible, params = references_visible_sql(user, "r")
    found = row(
        f"SELECT x.id FROM indexes_index x INNER JOIN refs_reference r ON r.id = x.reference_id WHERE x.id = %s AND {visible}",
        [index_id, *params],
    )
    if found is None:
        raise NotFound()


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


# API documents ---------------------------------------------------------------------------
# Read in SQL into the plain dicts the API returns, spelled as indexes.api.serializers (which
# document them) would spell them. Lists never read an index's manifest (an entry per OTU of
# the reference); the detail reads it once.

#: An index as lists show it (IndexListSerializer).
#: Change counts, in lists: as stored at the build's creation, else subqueries on each index's
#: changes (no join and grouping of every change of every index).
_COUNTS_SQL = """COALESCE(x.change_count, (SELECT COUNT(*) FROM history_change c WHERE c.index_id = x.id)),
       COALESCE(x.modified_otu_count, (SELECT COUNT(DISTINCT c.otu_id) FROM history_change c WHERE c.index_id = x.id))"""
_INDEX_SQL = """
SELECT x.id, x.version, x.created_at, x.ready, x.has_files, x.job_id, x.reference_id, u.username, {counts}{extra}
FROM indexes_index x
INNER JOIN refs_reference r ON r.id = x.reference_id
LEFT JOIN virtool_site_user u ON u.id = x.user_id
WHERE {where}
"""


def _index_document(values: tuple) -> dict:
    index_id, version, created_at, ready, has_files, job_id, reference_id, username, change_count, otu_count = values[:10]
    return {
        "id": index_id,
        "version": version,
        "created_at": api_time(created_at),
        "ready": flag(ready),
        "has_files": flag(has_files),
        "job": None if job_id is None else {"id": job_id},
        "ref": {"id": reference_id},
        "reference": {"id": reference_id},
        "user": None if username is None else {"id": username},
        "change_count": change_count,
        "modified_otu_count": otu_count,
        "modified_kind_count": otu_count,
    }


def unbuilt_stats(*, references: str, params: list) -> dict:
    """Virtool's unbuilt figures of the references `references` (SQL giving their ids), in one query."""
    change_count, otu_count, total = row(
        f"""SELECT (SELECT COUNT(*) FROM history_change c WHERE c.index_id IS NULL AND c.reference_id IN ({references})),
        (SELECT COUNT(DISTINCT c.otu_id) FROM history_change c WHERE c.index_id IS NULL AND c.reference_id IN ({references})),
        (SELECT COUNT(*) FROM refs_otu o WHERE o.reference_id IN ({references}))""",
        [*params, *params, *params],
    )
    return {
        "change_count": change_count,
        "modified_otu_count": otu_count,
        "modified_kind_count": otu_count,
        "total_otu_count": total,
    }


def indexes_page(*, request, ready: bool | None = None, reference_id: str | None = None) -> dict:
    """GET /api/indexes (the indexes of the references the user sees; `total_count` ignores
    `ready`) or GET /api/refs/{id}/indexes, newest first, with the unbuilt figures."""
    visible, params = references_visible_sql(request.user, "r")
    where, where_params = visible, list(params)
    if reference_id is not None:
        where, where_params = f"x.reference_id = %s AND {visible}", [reference_id, *params]
    total_where, total_params = where, list(where_params)
    if ready is not None:
        where, where_params = f"{where} AND x.ready = %s", [*where_params, ready]

    def fetch(limit, offset):
        found = rows(
            _INDEX_SQL.format(counts=_COUNTS_SQL, extra="", where=where) + " ORDER BY x.created_at DESC, x.version DESC LIMIT %s OFFSET %s",
            [*where_params, limit, offset],
        )
        return [_index_document(values) for values in found], None

    def count(condition, values):
        return lambda: row(
            f"SELECT COUNT(*) FROM indexes_index x INNER JOIN refs_reference r ON r.id = x.reference_id WHERE {condition}", values
        )[0]

    page = page_read(
        request,
        fetch=fetch,
        count=count(where, where_params),
        total=None if reference_id is not None else count(total_where, total_params),
    )
    if reference_id is not None:
        page.update(unbuilt_stats(references="%s", params=[reference_id]))
    else:
        page.update(unbuilt_stats(references=f"SELECT r.id FROM refs_reference r WHERE {visible}", params=params))
    return page


def _index_file_document(file_id, index_id, name, file_type, size) -> dict:
    """IndexFileSerializer."""
    return {
        "id": file_id,
        "name": name,
        "type": file_type,
        "size": size,
        "download_url": f"/api/indexes/{index_id}/files/{name}",
    }


def index_changes_summary(*, index_id: str, manifest: dict) -> tuple[list[dict], int, list[list[int]]]:
    """What the detail shows of an index's changes, from one query: (the OTUs they touch, each
    with the name at its latest change (its current name), its manifest version and its number
    of changes, by name ignoring case, then id; the number of changes; [user pk, changes] of
    their authors, by pk).

    An index holds a change per OTU of a whole reference (thousands): grouped in one pass over
    plain tuples and sorted as lists, without a key function call per OTU.
    """
    otus: dict[str, list] = {}
    authors: dict[int, int] = {}
    for otu_id, name, version, user_pk in rows(
        "SELECT c.otu_id, c.otu_name, c.otu_version, c.user_id FROM history_change c WHERE c.index_id = %s", [index_id]
    ):
        if user_pk is not None:
            authors[user_pk] = authors.get(user_pk, 0) + 1
        entry = otus.get(otu_id)
        if entry is None:
            otus[otu_id] = [name.lower(), otu_id, name, version, 1]
        else:
            entry[4] += 1
            if version > entry[3]:
                entry[0], entry[2], entry[3] = name.lower(), name, version
    version_of = manifest.get
    return (
        [
            {"id": otu_id, "name": name, "version": version_of(otu_id, version), "change_count": count}
            for _, otu_id, name, version, count in sorted(otus.values())
        ],
        sum(entry[4] for entry in otus.values()),
        [[user_pk, count] for user_pk, count in sorted(authors.items())],
    )


def _files_and_contributors(index_id: str, authors: list[list[int]]) -> tuple[list[dict], list[dict]]:
    """The index's files (by id) and its contributors (by number of changes, then username),
    from [user pk, changes] of the authors of its changes, in one query."""
    counts = dict((user_pk, count) for user_pk, count in authors)
    sql = "SELECT 1, f.id, NULL, f.name, f.type, f.size FROM indexes_indexfile f WHERE f.index_id = %s"
    if counts:
        # Usernames as they are now (a renamed user shows the new name), ordered by the database.
        sql += f" UNION ALL SELECT 2, u.id, u.username, NULL, NULL, NULL FROM virtool_site_user u WHERE u.id IN ({placeholders(counts)})"
    files, contributors = [], []
    for kind, pk, username, name, file_type, size in rows(sql + " ORDER BY 1, 3, 2", [index_id, *counts]):
        if kind == 1:
            files.append(_index_file_document(pk, index_id, name, file_type, size))
        else:
            contributors.append({"id": username, "count": counts[pk]})
    contributors.sort(key=lambda contributor: -contributor["count"])  # stable: ties stay by username
    return files, contributors


def index_document(*, index_id: str, user=None) -> dict:
    """GET /api/indexes/{id}: for users who see its reference, and for its own job runner (404
    for an index that does not exist, 403 for another job's); without `user`, the answer to a
    write its caller was allowed to make.

    Two queries whatever the size of the index: the index (its manifest, and the summary of its
    changes written when the build was created: the changed OTUs served as stored JSON text,
    the counts, the authors), then its files with its contributors' names. An index row without
    a summary (written otherwise) costs a third, reading its changes.
    """
    is_job = getattr(user, "is_job", False)
    where, params = "x.id = %s", [index_id]
    if user is not None and not is_job:
        visible, visible_params = references_visible_sql(user, "r")
        where, params = f"x.id = %s AND {visible}", [index_id, *visible_params]
    found = row(
        _INDEX_SQL.format(
            counts="x.change_count, x.modified_otu_count",
            extra=", x.manifest, r.name, r.data_type, x.changed_otus, x.contributor_counts",
            where=where,
        ),
        params,
    )
    if found is None:
        raise NotFound()
    if is_job and found[5] != user.job.id:
        raise InsufficientRights()
    document = _index_document(found)
    manifest = json_ints(found[10])
    if found[13] is not None:
        otus, authors = JsonText(found[13]), json_ints(found[14])
    else:
        otus, document["change_count"], authors = index_changes_summary(index_id=index_id, manifest=manifest)
        document["modified_otu_count"] = document["modified_kind_count"] = len(otus)
    files, contributors = _files_and_contributors(index_id, authors)
    document.update(
        {
            "manifest": manifest,
            "reference": {"id": found[6], "name": found[11], "data_type": found[12]},
            "contributors": contributors,
            "otus": otus,
            "files": files,
        }
    )
    return document


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
        current = otu_documents_read(chunk)
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
