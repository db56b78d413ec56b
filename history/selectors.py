"""Reading history, including the state of an OTU at any recorded version."""

from django.db.models import Count, QuerySet

from history.diffs import document_revert
from history.models import Change


def otu_document_at_version(*, otu_id: str, version: int, current: dict | None) -> dict | None:
    """The joined OTU document as it was at `version`, by reverting later changes.

    `current` is the OTU's joined document now, or None when the OTU has been removed (the
    removal change holds its last document). Returns None when the OTU did not exist at that
    version.
    """
    changes = list(Change.objects.filter(otu_id=otu_id, otu_version__gt=version).order_by("-otu_version"))
    document = current
    for change in changes:
        if change.method_name == "remove":
            document = change.diff
        elif change.method_name in ("create", "import", "clone", "remote") and isinstance(change.diff, dict):
            return None
        elif document is not None:
            document = document_revert(document, change.diff)
    if document is None:
        removal = Change.objects.filter(otu_id=otu_id, method_name="remove").order_by("-otu_version").first()
        document = removal.diff if removal else None
    return document


#: What a change shows in lists (everything but its diff), with the names of its user and index.
#: A diff is the whole OTU document for creations, imports and removals, so lists never load it,
#: and the index's manifest (every OTU of the reference) or the user's row is not loaded either.
CHANGE_LIST_FIELDS = (
    "id",
    "method_name",
    "description",
    "otu_id",
    "otu_name",
    "otu_version",
    "reference_id",
    "created_at",
    "user",
    "user__username",
    "index",
    "index__version",
)


def changes_shown(queryset: QuerySet[Change], *, diff: bool = False) -> QuerySet[Change]:
    """The changes with what the API shows of them; their diffs only when asked for."""
    fields = (*CHANGE_LIST_FIELDS, "diff") if diff else CHANGE_LIST_FIELDS
    return queryset.select_related("user", "index").only(*fields)


def changes_list(*, reference_ids) -> QuerySet[Change]:
    """Changes of the given references (an iterable or a values queryset), newest first."""
    return changes_shown(Change.objects.filter(reference_id__in=reference_ids)).order_by(
        "-created_at", "-otu_version", "-id"
    )


def otu_changes(*, otu_id: str, reference_ids) -> list[Change]:
    """An OTU's changes, newest version first."""
    return list(
        changes_shown(Change.objects.filter(otu_id=otu_id, reference_id__in=reference_ids)).order_by("-otu_version")
    )


def change_get(*, change_id: str, reference_ids) -> Change | None:
    return changes_shown(Change.objects.filter(id=change_id, reference_id__in=reference_ids), diff=True).first()


def reference_contributors(*, reference_id: str) -> list[dict]:
    """`[{id: username, count}]`: how many changes each user made to the reference's OTUs."""
    rows = (
        Change.objects.filter(reference_id=reference_id, user__isnull=False)
        .values("user__username")
        .annotate(count=Count("id"))
        .order_by("-count", "user__username")
    )
    return [{"id": row["user__username"], "count": row["count"]} for row in rows]


def otu_most_recent_change(*, otu_id: str) -> Change | None:
    """The OTU's latest change, without its diff (an OTU document shows only its summary)."""
    return (
        Change.objects.filter(otu_id=otu_id)
        .select_related("user")
        .only("id", "method_name", "description", "created_at", "user", "user__username")
        .order_by("-otu_version")
        .first()
    )
