"""Keys of cached answers about references (virtool_site.api.cache.cached_get).

Each reads, in one query, whether the user may see the data and the revision of the
reference it belongs to (refs.revisions). None: answer without the cache (not visible, not
found).
"""

from refs import revisions


def revision_key(found: tuple | None) -> str | None:
    """The key of an answer about a reference's data, from (reference id, revision, ...)."""
    return None if found is None else f"ref:{found[0]}:{found[1]}"


def reference_answer_key(request, *, ref_id: str, **_) -> str | None:
    """GET /api/refs/{ref_id}/...: the reference's data at its current revision."""
    revision = revisions.reference_revision_visible(user=request.user, reference_id=ref_id)
    return None if revision is None else revision_key((ref_id, revision))


def otu_answer_key(request, *, otu_id: str, **_) -> str | None:
    """GET /api/otus/{otu_id}: the OTU's reference at its current revision."""
    return revision_key(revisions.otu_reference_revision_visible(user=request.user, otu_id=otu_id))


def references_answer_key(request, **_) -> str | None:
    """GET /api/refs: the references the user sees, each at its current revision (so users
    who see the same references share answers)."""
    seen = revisions.references_revisions_visible(user=request.user)
    return "refs:" + ",".join(f"{reference_id}:{revision}" for reference_id, revision in seen)
