"""Export: a reference written as a reference file (reference.json.gz), streamed.

Scope `unbuilt`: every OTU as it is now. Scope `built`: every OTU as it was at its last index
build, including OTUs removed since the latest ready index (from their history). The export
endpoint streams the file; the export_reference command writes it to a path.
"""

from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from django.utils import timezone

from history.selectors import otu_document_at_version
from indexes.models import Index
from refs.documents import otu_documents_iter
from refs.models import OTU, Reference
from refs.reference_files import reference_file_stream, reference_file_write
from virtool_site.errors import InvalidInput
from virtool_site.ids import random_id

EXPORT_SCOPES = ("built", "unbuilt")


def _built_documents(reference: Reference) -> Iterator[dict]:
    """Each OTU as it was at its last build (never-built OTUs are left out); OTUs removed
    since the latest ready index come from their removal Change."""
    queryset = OTU.objects.filter(reference_id=reference.id, last_indexed_version__isnull=False)
    for document in otu_documents_iter(queryset):
        version = document["last_indexed_version"]
        if document["version"] != version:
            document = otu_document_at_version(otu_id=document["_id"], version=version, current=document)
        if document is not None:
            yield document
    latest = Index.objects.filter(reference_id=reference.id, ready=True).order_by("-version").first()
    if latest is not None and isinstance(latest.manifest, dict) and latest.manifest:
        present = set(OTU.objects.filter(reference_id=reference.id).values_list("id", flat=True))
        for otu_id, version in latest.manifest.items():
            if otu_id in present:
                continue
            try:
                version = int(version)
            except (TypeError, ValueError):
                continue
            document = otu_document_at_version(otu_id=otu_id, version=version, current=None)
            if document is not None:
                yield document


def reference_export_documents(*, reference: Reference, scope: str) -> Iterator[dict]:
    if scope not in EXPORT_SCOPES:
        raise InvalidInput("Invalid query", errors={"scope": [f"Must be one of {', '.join(EXPORT_SCOPES)}."]})
    if scope == "built":
        return _built_documents(reference)
    return otu_documents_iter(OTU.objects.filter(reference_id=reference.id))


def _export_header(reference: Reference) -> dict:
    return {
        "name": reference.name,
        "organism": reference.organism,
        "data_type": reference.data_type,
        "created_at": timezone.now(),
    }


def reference_export_stream(*, reference: Reference, scope: str) -> Iterable[bytes]:
    """The gzipped reference file, streamed (export endpoint)."""
    documents = reference_export_documents(reference=reference, scope=scope)
    return reference_file_stream(otu_documents=documents, **_export_header(reference))


def reference_export_write(
    *, reference: Reference, scope: str, path, on_otu: Callable[[], None] | None = None
) -> int:
    """Write the reference file to `path` (via a temporary file renamed at the end)."""
    path = Path(path)
    documents = reference_export_documents(reference=reference, scope=scope)
    if on_otu:
        documents = _tap(documents, on_otu)
    temporary = path.with_name(f".{path.name}.{random_id()}.part")
    try:
        with open(temporary, "wb") as handle:
            size = reference_file_write(handle, otu_documents=documents, **_export_header(reference))
        temporary.replace(path)
    finally:
        temporary.unlink(missing_ok=True)
    return size


def _tap(documents, callback):
    for document in documents:
        callback()
        yield document
