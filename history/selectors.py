"""Reading history, including the state of an OTU at any recorded version."""

from django.db.models import Count, QuerySet

from history.diffs import document_revert
from history.models import Change
from virtool_site.api.filtersets import filterset_values
from virtool_site.errors import NotFound
from virtool_site.reads import api_time, json_value, page_read, row, rows


def otu_document_at_version(*, otu_id: str, version: int, current: dict | None) -> dict | None:
    """The joined OTU document as it was at `version`, by reverting later changes.

    `current` is the OTU's joined document now, or None when the OTU has been removed (the
    removal change holds its last document). Returns None when the OTU did not exist at that
    version.
    """
    return otu_documents_at_version({(otu_id, version): current})[(otu_id, version)]


#: Changes that create an OTU: reverting past one means the OTU did not exist.
_CREATING = ("create", "import", "clone", "remote")


def otu_documents_at_version(wanted: dict[tuple[str, int], dict | None]) -> dict[tuple[str, int], dict | None]:
    """`otu_document_at_version` of many OTUs in one query: {(OTU id, version): its document
    now (None when removed)} -> {(OTU id, version): its document at that version}.

    The query reads each OTU's changes after the oldest version wanted of it, and its removals
    (a removed OTU's last document); a diff is decoded only when it is applied.
    """
    if not wanted:
        return {}
    oldest: dict[str, int] = {}
    for otu_id, version in wanted:
        oldest[otu_id] = min(version, oldest.get(otu_id, version))
    changes: dict[str, list[tuple]] = {}
    for otu_id, otu_version, method_name, diff in rows(
        "SELECT c.otu_id, c.otu_version, c.method_name, c.diff FROM history_change c WHERE "
        + " OR ".join(["(c.otu_id = %s AND (c.otu_version > %s OR c.method_name = 'remove'))"] * len(oldest))
        + " ORDER BY c.otu_id, c.otu_version DESC",
        [value for otu_id in sorted(oldest) for value in (otu_id, oldest[otu_id])],
    ):
        changes.setdefault(otu_id, []).append((otu_version, method_name, diff))
    return {pair: _document_at(changes.get(pair[0], []), pair[1], current) for pair, current in wanted.items()}


def _document_at(changes: list[tuple], version: int, current: dict | None) -> dict | None:
    """The document at `version` from the document now and the OTU's changes (newest first)."""
    document = current
    for otu_version, method_name, diff in changes:
        if otu_version <= version:
            break
        if method_name == "remove":
            document = json_value(diff)
            continue
        if document is None and method_name not in _CREATING:
            continue
        diff = json_value(diff)
        if method_name in _CREATING and isinstance(diff, dict):
            return None
        if document is not None:
            document = document_revert(document, diff)
    if document is None:
        removal = next((diff for _, method_name, diff in changes if method_name == "remove"), None)
        document = json_value(removal) if removal is not None else None
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


def otu_changes(*, otu_id: str, reference_ids) -> list[Change]:
    """An OTU's changes, newest version first (models, for the admin)."""
    return list(
        changes_shown(Change.objects.filter(otu_id=otu_id, reference_id__in=reference_ids)).order_by("-otu_version")
    )


# API documents ---------------------------------------------------------------------------------
# Read in SQL into the plain dicts the API returns, spelled as history.api.serializers'
# ChangeSerializer / ChangeDetailSerializer (which document them) would spell them. Lists never
# read a diff (a whole OTU document for creations, imports and removals) nor an index's manifest.

_CHANGE_SQL = """
SELECT c.id, c.method_name, c.description, c.created_at, c.otu_id, c.otu_name, c.otu_version, c.reference_id,
       u.username, c.index_id, i.version{extra}
FROM history_change c
LEFT JOIN virtool_site_user u ON u.id = c.user_id
LEFT JOIN indexes_index i ON i.id = c.index_id
WHERE {where}
"""
#: Newest first; equal times by version, then id.
NEWEST_FIRST = " ORDER BY c.created_at DESC, c.otu_version DESC, c.id DESC"
UNBUILT = {"id": "unbuilt", "version": "unbuilt"}


def _visible_condition(user) -> tuple[str, list]:
    from refs.permissions import references_visible_sql

    visible, params = references_visible_sql(user, "r")
    return f"c.reference_id IN (SELECT r.id FROM refs_reference r WHERE {visible})", params


def change_document(values: tuple) -> dict:
    change_id, method_name, description, created_at, otu_id, otu_name, otu_version, reference_id, username, index_id, index_version = values[:11]
    otu = {"id": otu_id, "name": otu_name, "version": "removed" if method_name == "remove" else otu_version}
    return {
        "id": change_id,
        "method_name": method_name,
        "description": description,
        "created_at": api_time(created_at),
        "otu": otu,
        "virus": dict(otu),
        "reference": {"id": reference_id},
        "user": None if username is None else {"id": username},
        "index": UNBUILT if index_id is None else {"id": index_id, "version": index_version},
    }


def change_documents(where: str, params: list, *, order: str = NEWEST_FIRST, limit: int | None = None, offset: int = 0) -> list[dict]:
    sql = _CHANGE_SQL.format(extra="", where=where) + order
    if limit is not None:
        sql, params = sql + " LIMIT %s OFFSET %s", [*params, limit, offset]
    return [change_document(values) for values in rows(sql, params)]


def changes_count(where: str, params: list) -> int:
    return row(f"SELECT COUNT(*) FROM history_change c WHERE {where}", params)[0]


def changes_page(*, request, where: str, params: list, order: str = NEWEST_FIRST, total: str | None = None, total_params=()) -> dict:
    """A page of changes in the page envelope, with the found count in the same statement (a
    scalar subquery, counted once); `total`: the condition without the query's filters."""

    def fetch(limit, offset):
        counted = f", (SELECT COUNT(*) FROM history_change c WHERE {where})"
        sql = _CHANGE_SQL.format(extra=counted, where=where) + order + " LIMIT %s OFFSET %s"
        found = rows(sql, [*params, *params, limit, offset])
        return [change_document(values) for values in found], (found[0][-1] if found else None)

    return page_read(
        request,
        fetch=fetch,
        count=lambda: changes_count(where, params),
        total=None if total is None else (lambda: changes_count(total, list(total_params))),
    )


def history_page(*, request) -> dict:
    """GET /api/history: every change the user may see, newest first."""
    from history.filtersets import ChangeFilter

    filterset_values(ChangeFilter, request, refuse_unknown=True)
    where, params = _visible_condition(request.user)
    return changes_page(request=request, where=where, params=params)


def reference_history_page(*, request, reference_id: str) -> dict:
    """GET /api/refs/{id}/history: the reference's changes, newest first (`unbuilt` filters)."""
    from history.filtersets import ReferenceChangeFilter
    from refs.selectors import reference_visible_id

    unbuilt = filterset_values(ReferenceChangeFilter, request, refuse_unknown=True).get("unbuilt")
    reference_visible_id(user=request.user, reference_id=reference_id)
    total = "c.reference_id = %s"
    where = total if unbuilt is None else f"{total} AND c.index_id IS {'' if unbuilt == 'true' else 'NOT '}NULL"
    return changes_page(request=request, where=where, params=[reference_id], total=total, total_params=[reference_id])


def otu_history(*, user, otu_id: str) -> list[dict]:
    """GET /api/otus/{id}/history: the OTU's changes, newest version first (removed OTUs keep
    their history); NotFound when there are none the user may see."""
    where, params = _visible_condition(user)
    documents = change_documents(f"c.otu_id = %s AND {where}", [otu_id, *params], order=" ORDER BY c.otu_version DESC")
    if not documents:
        raise NotFound()
    return documents


def change_detail(*, user, change_id: str) -> dict:
    """GET /api/history/{id}: the change with its diff; NotFound when the user may not see it."""
    where, params = _visible_condition(user)
    found = row(_CHANGE_SQL.format(extra=", c.diff", where=f"c.id = %s AND {where}"), [change_id, *params])
    if found is None:
        raise NotFound()
    return {**change_document(found), "diff": json_value(found[11])}


def index_history_page(*, request, index_id: str) -> dict:
    """GET /api/indexes/{id}/history: the changes built into the index, by OTU name."""
    return changes_page(
        request=request, where="c.index_id = %s", params=[index_id], order=" ORDER BY c.otu_name, c.otu_version DESC, c.id"
    )


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
