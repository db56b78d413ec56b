"""Keys of cached answers about references (virtool_site.api.cache.cached_get).

Each reads, in one query, whether the user may see the data and the revision of the
reference it belongs to (refs.revisions). None: answer without the cache (not visible, not
found, not a signed-in user).
"""

from refs import revisions
from refs.permissions import is_signed_in_user


def reference_answer_key(request, *, ref_id: str, **_) -> str | None:
    """GET /api/refs/{ref_id}/...: the reference's data at its current revision."""
    if not is_signed_in_user(request.user):
        return None
    revision = revisions.reference_revision_visible(user=request.user, reference_id=ref_id)
    return None if revision is None else f"ref:{ref_id}:{revision}"


def otu_answer_key(request, *, otu_id: str, **_) -> str | None:
    """GET /api/otus/{otu_id}: the OTU's reference at its current revision."""
    if not is_signed_in_user(request.user):
        return None
    found = revisions.otu_reference_revision_visible(user=request.user, otu_id=otu_id)
    return None if found is None else f"ref:{found[0]}:{found[1]}"


def references_answer_key(request, **_) -> str | None:
    """GET /api/refs: the references the user sees, each at its current revision (so users
    who see the same references share answers)."""
    if not is_signed_in_user(request.user):
        return None
    seen = revisions.references_revisions_visible(user=request.user)
    return "refs:" + ",".join(f"{reference_id}:{revision}" for reference_id, revision in seen)
