"""Reading references, their rights, OTUs, isolates and sequences for the API.

Each answer is read with a fixed, small number of SQL statements (visibility included, as
`refs.permissions.references_visible_sql`) into the plain dicts the API returns, spelled as
the response serializers of refs.api.serializers (which document them) would spell them.
"""

from __future__ import annotations

from functools import cache

from django.db import connection
from django.db.models import OuterRef, QuerySet, Subquery

from history.models import Change
from indexes.models import Index
from refs.documents import isolate_documents_read, otu_document, otu_issues
from refs.filtersets import OTUFilter, ReferenceFilter
from refs.models import OTU, Reference
from refs.permissions import references_visible_sql
from virtool_site.errors import NotFound
from virtool_site.api.filtersets import filterset_values
from virtool_site.reads import api_time, flag, icontains, json_value, page_read, row, rows, subquery_count


def _user_ref(username: str | None) -> dict | None:
    return None if username is None else {"id": username}


# References ---------------------------------------------------------------------------------


@cache
def _reference_annotations() -> dict:
    """The annotations of a reference row (the admin's list), built once: an expression is
    copied when a queryset resolves it, so the same ones serve every request."""
    return {
        "otu_count": subquery_count(OTU.objects.filter(reference=OuterRef("pk")), "reference"),
        "unbuilt_change_count": subquery_count(
            Change.objects.filter(reference_id=OuterRef("pk"), index__isnull=True), "reference_id"
        ),
        "latest_build_id": Subquery(
            Index.objects.filter(reference=OuterRef("pk"), ready=True).order_by("-version").values("id")[:1]
        ),
    }


def references_annotated(queryset: QuerySet[Reference]) -> QuerySet[Reference]:
    return queryset.select_related("user").annotate(**_reference_annotations())


#: A reference as lists show it (ReferenceListSerializer): the row, its counts and latest
#: ready build, in one statement. `{where}`: the visibility condition and filters.
_REFERENCE_SQL = """
SELECT r.id, r.name, r.description, r.created_at, r.data_type, r.organism, r.public, u.username,
       r.imported_from, r.cloned_from, r.remotes_from, r.release, r.installed, r.updates, r.process_id,
       (SELECT COUNT(*) FROM refs_otu o WHERE o.reference_id = r.id),
       (SELECT COUNT(*) FROM history_change c WHERE c.reference_id = r.id AND c.index_id IS NULL),
       b.id, b.version, b.created_at, bu.username,
       EXISTS (SELECT 1 FROM indexes_indexfile f WHERE f.index_id = b.id AND f.type = 'json'),
       r.restrict_source_types, r.source_types, {extra}
FROM refs_reference r
LEFT JOIN virtool_site_user u ON u.id = r.user_id
LEFT JOIN indexes_index b ON b.id = (
    SELECT i.id FROM indexes_index i WHERE i.reference_id = r.id AND i.ready ORDER BY i.version DESC LIMIT 1
)
LEFT JOIN virtool_site_user bu ON bu.id = b.user_id
WHERE {where}
"""
_OPTIONAL_SOURCES = ("imported_from", "cloned_from", "remotes_from")


def _reference_document(values: tuple) -> dict:
    (
        reference_id, name, description, created_at, data_type, organism, public, username,
        imported_from, cloned_from, remotes_from, release, installed, updates, process_id,
        otu_count, unbuilt_count, build_id, build_version, build_created_at, build_username, has_json,
        restrict_source_types, source_types,
    ) = values[:24]
    document = {
        "id": reference_id,
        "name": name,
        "description": description,
        "created_at": api_time(created_at),
        "data_type": data_type,
        "organism": organism,
        "public": flag(public),
        "user": _user_ref(username),
    }
    # Omitted when empty, as Virtool's documents do (ReferenceListSerializer).
    for field, value in zip(_OPTIONAL_SOURCES, (imported_from, cloned_from, remotes_from)):
        value = json_value(value)
        if value is not None:
            document[field] = value
    document.update(
        {
            "release": json_value(release),
            "installed": json_value(installed),
            "updates": json_value(updates),
            "process": {"id": process_id} if process_id else None,
            "latest_build": None
            if build_id is None
            else {
                "id": build_id,
                "version": build_version,
                "created_at": api_time(build_created_at),
                "user": _user_ref(build_username),
                "has_json": flag(has_json),
            },
            "otu_count": otu_count,
            "unbuilt_change_count": unbuilt_count,
            "restrict_source_types": flag(restrict_source_types),
            "source_types": _texts(json_value(source_types)),
        }
    )
    return document


def _texts(values: list | None) -> list | None:
    """ListField(child=CharField())."""
    return None if values is None else [None if value is None else str(value) for value in values]


def references_page(*, request) -> dict:
    """GET /api/refs: the references the user may see, newest first, in the page envelope."""
    visible, params = references_visible_sql(request.user, "r")
    where, filter_params = visible, []
    find = filterset_values(ReferenceFilter, request).get("find", "").strip()
    if find:
        condition, value = icontains("r.name", find)
        where, filter_params = f"{visible} AND {condition}", [value]

    def fetch(limit, offset):
        found = rows(
            _REFERENCE_SQL.format(extra="COUNT(*) OVER ()", where=where)
            + " ORDER BY r.created_at DESC, r.id LIMIT %s OFFSET %s",
            [*params, *filter_params, limit, offset],
        )
        return [_reference_document(values) for values in found], (found[0][-1] if found else None)

    return page_read(
        request,
        fetch=fetch,
        count=lambda: row(f"SELECT COUNT(*) FROM refs_reference r WHERE {where}", [*params, *filter_params])[0],
        total=lambda: row(f"SELECT COUNT(*) FROM refs_reference r WHERE {visible}", params)[0],
    )


_RIGHTS_SQL = """
SELECT 'user', u.username, e.build, e.modify, e.modify_otu, e.remove, e.created_at, e.id
FROM refs_referenceuser e INNER JOIN virtool_site_user u ON u.id = e.user_id WHERE e.reference_id = %s
UNION ALL
SELECT 'group', g.name, e.build, e.modify, e.modify_otu, e.remove, e.created_at, e.id
FROM refs_referencegroup e INNER JOIN auth_group g ON g.id = e.group_id WHERE e.reference_id = %s
ORDER BY 1 DESC, 7, 8
"""


def _rights_document(build, modify, modify_otu, remove, created_at, member_id) -> dict:
    """ReferenceUserSerializer / ReferenceGroupSerializer."""
    return {
        "build": flag(build),
        "modify": flag(modify),
        "modify_otu": flag(modify_otu),
        "modify_kind": flag(modify_otu),
        "remove": flag(remove),
        "created_at": api_time(created_at),
        "id": member_id,
    }


def _rights_read(reference_id: str) -> dict[str, list[dict]]:
    """{"user": [...], "group": [...]}: the reference's rights entries, oldest first."""
    entries = {"user": [], "group": []}
    for kind, member_id, build, modify, modify_otu, remove, created_at, _ in rows(_RIGHTS_SQL, [reference_id, reference_id]):
        entries[kind].append(_rights_document(build, modify, modify_otu, remove, created_at, member_id))
    return entries


_CONTRIBUTORS_SQL = """
SELECT u.username, COUNT(c.id) AS n FROM history_change c INNER JOIN virtool_site_user u ON u.id = c.user_id
WHERE c.reference_id = %s GROUP BY u.username ORDER BY n DESC, u.username
"""


def reference_detail(*, user, reference_id: str) -> dict:
    """GET /api/refs/{id}: the list document with rights entries, contributors and the
    internal control; NotFound when not visible."""
    visible, params = references_visible_sql(user, "r")
    control = "(SELECT o.name FROM refs_otu o WHERE o.id = r.internal_control AND o.reference_id = r.id)"
    found = row(
        _REFERENCE_SQL.format(extra=f"r.internal_control, {control}", where=f"r.id = %s AND {visible}"),
        [reference_id, *params],
    )
    if found is None:
        raise NotFound()
    document = _reference_document(found)
    rights = _rights_read(reference_id)
    control_id, control_name = found[24:26]
    document.update(
        {
            "users": rights["user"],
            "groups": rights["group"],
            "contributors": [{"id": name, "count": count} for name, count in rows(_CONTRIBUTORS_SQL, [reference_id])],
            "internal_control": {"id": control_id, "name": control_name} if control_name is not None else None,
        }
    )
    return document


def reference_visible_id(*, user, reference_id: str) -> str:
    """The reference's id when `user` may see it; NotFound otherwise (one query)."""
    visible, params = references_visible_sql(user, "r")
    if row(f"SELECT r.id FROM refs_reference r WHERE r.id = %s AND {visible}", [reference_id, *params]) is None:
        raise NotFound()
    return reference_id


def reference_updates(*, user, reference_id: str) -> list:
    """GET /api/refs/{id}/updates: the releases installed, or being installed (one query)."""
    visible, params = references_visible_sql(user, "r")
    found = row(f"SELECT r.updates FROM refs_reference r WHERE r.id = %s AND {visible}", [reference_id, *params])
    if found is None:
        raise NotFound()
    return list(json_value(found[0]) or [])


def reference_members(*, user, reference_id: str, kind: str) -> list[dict]:
    """GET /api/refs/{id}/users or /groups."""
    return _rights_read(reference_visible_id(user=user, reference_id=reference_id))[kind]


# OTUs ---------------------------------------------------------------------------------------

#: A page of OTUs and, in the same statement, how many match (a scalar subquery is counted
#: once, from the index, where `COUNT(*) OVER ()` would read every matching row).
_OTU_LIST_SQL = """
SELECT o.id, o.name, o.abbreviation, o.verified, o.version, o.reference_id,
       (SELECT COUNT(*) FROM refs_otu o WHERE o.reference_id = %s{filters})
FROM refs_otu o WHERE o.reference_id = %s{filters}
ORDER BY o.name, o.id LIMIT %s OFFSET %s
"""


def _issues_read(otu_ids: list[str]) -> dict[str, dict | None]:
    """`issues` (as `otu_issues` gives them) of the given OTUs in one query, without loading
    sequence data: a row per sequence of their isolates (or per isolate without sequences),
    flagged when empty."""
    if not otu_ids:
        return {}
    blank = connection.operators["regex"] % "%s"
    found = rows(
        f"""SELECT i.otu_id, i.isolate_id, s.id, CASE WHEN s.sequence {blank} THEN 1 ELSE 0 END
        FROM refs_isolate i LEFT JOIN refs_sequence s ON s.isolate_id = i.id
        WHERE i.otu_id IN ({", ".join(["%s"] * len(otu_ids))}) ORDER BY i.otu_id, i.position, s.position""",
        [r"^\s*$", *otu_ids],
    )
    counts: dict[str, dict[str, int]] = {otu_id: {} for otu_id in otu_ids}
    empty_sequences: dict[str, list[str]] = {otu_id: [] for otu_id in otu_ids}
    for otu_id, isolate_id, sequence_id, empty in found:
        isolates = counts[otu_id]
        isolates[isolate_id] = isolates.get(isolate_id, 0) + (sequence_id is not None)
        if empty:
            empty_sequences[otu_id].append(sequence_id)
    issues = {}
    for otu_id, isolates in counts.items():
        found_issues = {
            "empty_otu": not isolates,
            "empty_isolate": [isolate_id for isolate_id, count in isolates.items() if not count],
            "empty_sequence": empty_sequences[otu_id],
            "isolate_inconsistency": len(set(isolates.values())) > 1,
        }
        issues[otu_id] = found_issues if any(found_issues.values()) else None
    return issues


def otus_page(*, request, reference_id: str) -> dict:
    """GET /api/refs/{id}/otus: the reference's OTUs by name, with their issues.

    A verified OTU has no issues: every write keeps `verified` equal to "`otu_issues` finds
    none" (refs.services, imports, clones, remotes, reverts), so only a page's unverified OTUs
    are read further (one query).
    """
    values = filterset_values(OTUFilter, request)
    filters, filter_params = "", []
    term = values.get("term", "").strip()
    if term:
        name, value = icontains("o.name", term)
        abbreviation, _ = icontains("o.abbreviation", term)
        filters += f" AND ({name} OR {abbreviation})"
        filter_params += [value, value]
    if values.get("verified"):
        filters += " AND o.verified = %s"
        filter_params.append(values["verified"] == "true")
    reference_visible_id(user=request.user, reference_id=reference_id)

    def fetch(limit, offset):
        params = [reference_id, *filter_params]
        found = rows(_OTU_LIST_SQL.format(filters=filters), [*params, *params, limit, offset])
        issues = _issues_read([otu_id for otu_id, _, _, verified, *_ in found if not verified])
        documents = [
            {
                "id": otu_id,
                "name": name,
                "abbreviation": abbreviation,
                "verified": flag(verified),
                "version": version,
                "reference": {"id": otu_reference_id},
                "issues": issues.get(otu_id),
            }
            for otu_id, name, abbreviation, verified, version, otu_reference_id, _ in found
        ]
        return documents, (found[0][-1] if found else None)

    count_sql = "SELECT COUNT(*) FROM refs_otu o WHERE o.reference_id = %s"
    return page_read(
        request,
        fetch=fetch,
        count=lambda: row(count_sql + filters, [reference_id, *filter_params])[0],
        total=lambda: row(count_sql, [reference_id])[0],
    )


#: The OTU (when visible) and the summary of its latest change.
_OTU_SQL = """
SELECT o.id, o.name, o.abbreviation, o.schema, o.taxid, o.version, o.verified, o.imported,
       o.last_indexed_version, o.reference_id, o.remote_id,
       c.id, c.method_name, c.description, c.created_at, cu.username
FROM refs_otu o INNER JOIN refs_reference r ON r.id = o.reference_id
LEFT JOIN history_change c ON c.id = (
    SELECT c2.id FROM history_change c2 WHERE c2.otu_id = o.id ORDER BY c2.otu_version DESC LIMIT 1
)
LEFT JOIN virtool_site_user cu ON cu.id = c.user_id
WHERE o.id = %s AND {visible}
"""


def _schema_document(segment: dict) -> dict:
    """SchemaSegmentSerializer: a missing `molecule` is null, a missing `required` true."""
    name, required = segment["name"], segment.get("required", True)
    return {
        "name": None if name is None else str(name),
        "molecule": segment.get("molecule"),
        "required": required if required is None or isinstance(required, bool) else _drf_bool(required),
    }


def _drf_bool(value) -> bool:
    """BooleanField.to_representation, for values that are not already booleans."""
    from rest_framework.fields import BooleanField

    try:
        if value in BooleanField.TRUE_VALUES:
            return True
        if value in BooleanField.FALSE_VALUES:
            return False
    except TypeError:  # unhashable
        pass
    return bool(value)


def _sequence_api(sequence: dict) -> dict:
    """IsolateSequenceSerializer."""
    segment = sequence.get("segment")
    return {
        "id": sequence["_id"],
        "accession": sequence["accession"],
        "definition": sequence["definition"],
        "host": sequence["host"],
        "segment": None if segment is None else str(segment),
        "sequence": sequence["sequence"],
    }


def isolate_api_document(isolate: dict) -> dict:
    """IsolateSerializer, from an isolate of the joined document."""
    return {
        "id": isolate["id"],
        "source_type": isolate["source_type"],
        "source_name": isolate["source_name"],
        "default": isolate["default"],
        "sequences": [_sequence_api(s) for s in isolate["sequences"]],
    }


def otu_api_document(document: dict, *, most_recent_change: dict | None = None) -> dict:
    """OTUSerializer: the API form of a joined OTU document (`id`s instead of `_id`s), with
    `issues`; `most_recent_change` as MostRecentChangeSerializer shows it."""
    return {
        "id": document["_id"],
        "name": document["name"],
        "abbreviation": document["abbreviation"],
        "schema": None if document["schema"] is None else [_schema_document(segment) for segment in document["schema"]],
        "taxid": document.get("taxid"),
        "version": document["version"],
        "verified": document["verified"],
        "imported": document.get("imported", False),
        "last_indexed_version": document.get("last_indexed_version"),
        "reference": {"id": document["reference"]["id"]},
        "isolates": [isolate_api_document(i) for i in document["isolates"]],
        "issues": otu_issues(document),
        "most_recent_change": most_recent_change,
    }


def otu_detail(*, user, otu_id: str) -> dict:
    """GET /api/otus/{id}: the joined OTU with issues and its most recent change (two queries)."""
    visible, params = references_visible_sql(user, "r")
    found = row(_OTU_SQL.format(visible=visible), [otu_id, *params])
    if found is None:
        raise NotFound()
    (
        found_id, name, abbreviation, schema, taxid, version, verified, imported, last_indexed_version,
        reference_id, remote_id, change_id, method_name, description, changed_at, username,
    ) = found
    otu = OTU(
        id=found_id, name=name, abbreviation=abbreviation, schema=json_value(schema), taxid=taxid, version=version,
        verified=flag(verified), imported=flag(imported), last_indexed_version=last_indexed_version,
        reference_id=reference_id, remote_id=remote_id,
    )
    document = otu_document(otu, isolates=isolate_documents_read([found_id]).get(found_id, []))
    recent = None
    if change_id is not None:
        recent = {
            "id": change_id,
            "method_name": method_name,
            "description": description,
            "created_at": api_time(changed_at),
            "user": _user_ref(username),
        }
    return otu_api_document(document, most_recent_change=recent)


# Isolates and sequences ------------------------------------------------------------------------

#: An OTU (when visible) with its isolates and their sequences, in order; `{only}` narrows it
#: to one isolate or one sequence. A visible OTU without isolates gives one row of NULLs after
#: its reference id.
_ISOLATE_ROWS_SQL = """
SELECT o.reference_id, i.isolate_id, i.source_type, i.source_name, i."default",
       s.id, s.accession, s.definition, s.host, s.segment, s.sequence
FROM refs_otu o INNER JOIN refs_reference r ON r.id = o.reference_id
LEFT JOIN refs_isolate i ON i.otu_id = o.id
LEFT JOIN refs_sequence s ON s.isolate_id = i.id
WHERE o.id = %s AND {visible}{only}
ORDER BY i.position, s.position
"""


def _isolate_rows(*, user, otu_id: str, isolate_id: str | None = None, sequence_id: str | None = None) -> list[tuple]:
    visible, params = references_visible_sql(user, "r")
    only, only_params = "", []
    if isolate_id is not None:
        only, only_params = " AND i.isolate_id = %s", [isolate_id]
    if sequence_id is not None:
        only, only_params = only + " AND s.id = %s", only_params + [sequence_id]
    found = rows(_ISOLATE_ROWS_SQL.format(visible=visible, only=only), [otu_id, *params, *only_params])
    if not found:
        raise NotFound()
    return found


def _isolates_api(found: list[tuple]) -> list[dict]:
    isolates: list[dict] = []
    for _, isolate_id, source_type, source_name, default, sequence_id, accession, definition, host, segment, sequence in found:
        if isolate_id is None:
            continue
        if not isolates or isolates[-1]["id"] != isolate_id:
            isolates.append(
                {
                    "id": isolate_id,
                    "source_type": source_type,
                    "source_name": source_name,
                    "default": flag(default),
                    "sequences": [],
                }
            )
        if sequence_id is not None:
            isolates[-1]["sequences"].append(
                _sequence_row_api(sequence_id, accession, definition, host, segment, sequence)
            )
    return isolates


def isolates_list(*, user, otu_id: str) -> list[dict]:
    """GET /api/otus/{id}/isolates (one query)."""
    return _isolates_api(_isolate_rows(user=user, otu_id=otu_id))


def isolate_detail(*, user, otu_id: str, isolate_id: str) -> dict:
    """GET /api/otus/{id}/isolates/{isolate_id} (one query)."""
    isolates = _isolates_api(_isolate_rows(user=user, otu_id=otu_id, isolate_id=isolate_id))
    if not isolates:
        raise NotFound()
    return isolates[0]


def _sequence_row_api(sequence_id, accession, definition, host, segment, sequence) -> dict:
    """A sequence row as an isolate's document shows it."""
    return {
        "id": sequence_id,
        "accession": accession,
        "definition": definition,
        "host": host,
        "segment": segment,
        "sequence": sequence,
    }


def _sequences_api(found: list[tuple]) -> list[dict]:
    """SequenceDetailSerializer: the isolate's sequence document with where it belongs."""
    return [
        {
            **_sequence_row_api(sequence_id, *fields),
            "otu_id": None,
            "isolate_id": isolate_id,
            "reference": {"id": reference_id},
        }
        for reference_id, isolate_id, _, _, _, sequence_id, *fields in found
        if sequence_id is not None
    ]


def sequences_list(*, user, otu_id: str, isolate_id: str) -> list[dict]:
    """GET /api/otus/{id}/isolates/{isolate_id}/sequences (one query)."""
    found = _isolate_rows(user=user, otu_id=otu_id, isolate_id=isolate_id)
    if found[0][1] is None:
        raise NotFound()
    documents = _sequences_api(found)
    for document in documents:
        document["otu_id"] = otu_id
    return documents


def sequence_detail(*, user, otu_id: str, isolate_id: str, sequence_id: str) -> dict:
    """GET /api/otus/{id}/isolates/{isolate_id}/sequences/{sequence_id} (one query)."""
    documents = _sequences_api(_isolate_rows(user=user, otu_id=otu_id, isolate_id=isolate_id, sequence_id=sequence_id))
    if not documents:
        raise NotFound()
    documents[0]["otu_id"] = otu_id
    return documents[0]
