"""Reads of an OTU at one of its versions (GET /api/otus/{otu_id}/{version}), and the OTU as
an index build's runner reads it (GET /api/otus/{otu_id} with a job key).

A past version is rebuilt from the OTU's history (history.selectors.otu_document_at_version),
so a removed OTU's versions stay readable, as its changes do. Who may read is decided before
(refs.permissions: `references_visible` for users, `job_manifest_version` for job runners).
"""

from history.models import Change
from history.selectors import otu_document_at_version
from refs.documents import otu_document_load
from refs.models import OTU
from refs.permissions import references_visible
from refs.selectors import otu_api_document
from virtool_site.errors import NotFound
from virtool_site.reads import api_time

#: Versions are PostgreSQL integers; anything above is no version of anything.
MAX_VERSION = 2**31 - 1


def otu_reference_visible_check(*, user, otu_id: str) -> None:
    """NotFound unless the OTU (or, removed, its history) belongs to a reference `user` sees."""
    reference_id = OTU.objects.filter(id=otu_id).values_list("reference_id", flat=True).first()
    if reference_id is None:
        reference_id = Change.objects.filter(otu_id=otu_id).values_list("reference_id", flat=True).first()
    if reference_id is None or not references_visible(user).filter(id=reference_id).exists():
        raise NotFound()


def otu_version_answer(*, otu_id: str, version: int | None = None) -> dict:
    """The OTU document of the API (OTUSerializer) at `version` (None: as it is now); its
    `most_recent_change` is the change that made that version. NotFound when the OTU had no
    such version."""
    if version is not None and not 0 <= version <= MAX_VERSION:
        raise NotFound()
    current = otu_document_load(otu_id)
    if version is None or (current is not None and current["version"] == version):
        document = current
    elif current is not None and version > current["version"]:
        document = None
    else:
        document = otu_document_at_version(otu_id=otu_id, version=version, current=current)
    if document is None or (version is not None and document["version"] != version):
        raise NotFound()
    change = (
        Change.objects.filter(otu_id=otu_id, otu_version=document["version"])
        .values_list("id", "method_name", "description", "created_at", "user__username")
        .first()
    )
    recent = None
    if change is not None:
        change_id, method_name, description, created_at, username = change
        recent = {
            "id": change_id,
            "method_name": method_name,
            "description": description,
            "created_at": api_time(created_at),
            "user": {"id": username} if username else None,
        }
    return otu_api_document(document, most_recent_change=recent)
