"""Reads: who sees which reference sets, BrAPI filters, bases pages, saved searches.

A reference set published from a Virtool index is visible exactly when its Virtool reference
is (`refs.permissions.references_visible`): a deleted reference takes its sets with it. Sets
imported from FASTA are public unless imported as private, then only administrators see them.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from django.core import signing
from django.db import connection
from django.db.models import Q, QuerySet
from django.db.models.functions import Collate
from django.utils import timezone

from brapi.models import ExternalReference, Reference, ReferenceSet, Search
from brapi.storage import bases_read
from refs.permissions import references_visible as virtool_references_visible
from refs.permissions import references_visible_sql
from virtool_site.reads import flag, json_value, row, rows
from virtool_site.errors import BadRequest, NotFound

#: Criteria BrAPI defines for entities this server does not hold (programs, trials, studies,
#: germplasm): nothing here is associated with any, so a non-empty filter matches nothing.
UNASSOCIATED_CRITERIA = (
    "programDbIds",
    "programNames",
    "trialDbIds",
    "trialNames",
    "studyDbIds",
    "studyNames",
    "germplasmDbIds",
    "germplasmNames",
)

PAGE_TOKEN_SALT = "brapi.bases.page"


def _is_administrator(user) -> bool:
    return bool(user is not None and getattr(user, "is_authenticated", False) and getattr(user, "is_superuser", False))


def referencesets_visible(user) -> QuerySet[ReferenceSet]:
    published = Q(reference__isnull=False, reference_id__in=virtool_references_visible(user).values("id"))
    imported = Q(reference__isnull=True) if _is_administrator(user) else Q(reference__isnull=True, public=True)
    return ReferenceSet.objects.filter(published | imported)


def references_visible(user) -> QuerySet[Reference]:
    return Reference.objects.filter(reference_set__in=referencesets_visible(user).values("id"))


def _filter_in(queryset: QuerySet, lookup: str, values: list[str]) -> QuerySet:
    """`lookup` in any of `values`; a value PostgreSQL cannot hold (NUL) matches nothing."""
    storable = [value for value in values if "\x00" not in value]
    if not storable:
        return queryset.none()
    return queryset.filter(**{lookup: storable})


def _external_filter(queryset: QuerySet, criteria: dict, owner: str) -> QuerySet:
    ids = [*(criteria.get("externalReferenceIds") or []), *(criteria.get("externalReferenceIDs") or [])]
    sources = criteria.get("externalReferenceSources") or []
    if not ids and not sources:
        return queryset
    matches = ExternalReference.objects.filter(**{f"{owner}__isnull": False})
    if ids:
        matches = _filter_in(matches, "external_id__in", ids)
    if sources:
        matches = _filter_in(matches, "external_source__in", sources)
    return queryset.filter(id__in=matches.values(owner))


def _unassociated(criteria: dict) -> bool:
    return any(criteria.get(name) for name in UNASSOCIATED_CRITERIA)


def referencesets_filter(queryset: QuerySet[ReferenceSet], criteria: dict) -> QuerySet[ReferenceSet]:
    """Apply BrAPI ReferenceSet criteria: values ORed within a field, fields ANDed."""
    if _unassociated(criteria):
        return queryset.none()
    for name, lookup in (
        ("referenceSetDbIds", "id__in"),
        ("accessions", "accession__in"),
        ("assemblyPUIs", "assembly_pui__in"),
        ("md5checksums", "md5checksum__in"),
        ("commonCropNames", "common_crop_name__in"),
    ):
        if criteria.get(name):
            queryset = _filter_in(queryset, lookup, criteria[name])
    return _external_filter(queryset, criteria, "reference_set")


def references_filter(queryset: QuerySet[Reference], criteria: dict) -> QuerySet[Reference]:
    """Apply BrAPI Reference criteria: values ORed within a field, fields ANDed."""
    if _unassociated(criteria):
        return queryset.none()
    for name, lookup in (
        ("referenceDbIds", "id__in"),
        ("referenceSetDbIds", "reference_set_id__in"),
        ("accessions", "accession__in"),
        ("md5checksums", "md5checksum__in"),
        ("commonCropNames", "reference_set__common_crop_name__in"),
    ):
        if criteria.get(name):
            queryset = _filter_in(queryset, lookup, criteria[name])
    if criteria.get("isDerived") is not None:
        queryset = queryset.filter(is_derived=criteria["isDerived"])
    if criteria.get("minLength") is not None:
        queryset = queryset.filter(length__gte=criteria["minLength"])
    if criteria.get("maxLength") is not None:
        queryset = queryset.filter(length__lte=criteria["maxLength"])
    return _external_filter(queryset, criteria, "reference")


def commoncropnames_listing(user) -> "Listing":
    """The crop names of the reference sets the user may see, each once, in order."""
    visible, params = _sets_visible_sql(user)
    where = f"WHERE {visible} AND s.common_crop_name IS NOT NULL AND s.common_crop_name <> ''"
    return Listing(
        count_sql=f"SELECT COUNT(DISTINCT s.common_crop_name) FROM brapi_referenceset s {where}",
        page_sql=f"SELECT DISTINCT s.common_crop_name FROM brapi_referenceset s {where} ORDER BY 1 LIMIT %s OFFSET %s",
        params=params,
        document=lambda found: [name for (name,) in found],
    )


def referenceset_md5(reference_set_id: str) -> str:
    """MD5 of the members' md5checksums, sorted (bytewise) and concatenated, read as a stream."""
    collation = "C" if connection.vendor == "postgresql" else "BINARY"
    checksums = (
        Reference.objects.filter(reference_set_id=reference_set_id)
        .order_by(Collate("md5checksum", collation))
        .values_list("md5checksum", flat=True)
    )
    digest = hashlib.md5()
    for checksum in checksums.iterator(chunk_size=10_000):
        digest.update(checksum.encode("ascii"))
    return digest.hexdigest()


# Bases -------------------------------------------------------------------------------------


@dataclass
class BasesPage:
    sequence: str
    offset: int
    next_page_token: str | None
    start: int
    end: int
    page_size: int


def _page_token_dumps(reference_id: str, start: int, position: int, end: int) -> str:
    return signing.dumps([reference_id, start, position, end], salt=PAGE_TOKEN_SALT, compress=False)


def _page_token_loads(token: str, reference_id: str) -> tuple[int, int, int]:
    try:
        value = signing.loads(token, salt=PAGE_TOKEN_SALT)
    except (signing.BadSignature, ValueError, TypeError):
        raise BadRequest("Invalid pageToken") from None
    if (
        not isinstance(value, list)
        or len(value) != 4
        or value[0] != reference_id
        or not all(isinstance(v, int) and not isinstance(v, bool) for v in value[1:])
    ):
        raise BadRequest("Invalid pageToken")
    return value[1], value[2], value[3]


def bases_page(
    *, user, reference_id: str, start: int | None, end: int | None, page_token: str | None, page_size: int
) -> BasesPage:
    """A page of bases of `[start, end)` of a reference the user may see (404 "Reference not
    found" otherwise): `page_size` bases from `start` or the token's position.

    start is inclusive, end exclusive and clamped to the length; start must lie within the
    reference (0 is allowed for an empty one) and not after end. The page token is opaque and
    signed; it carries the start, next position and end of the original request and
    overrides them. Two queries: the reference's length (and visibility), its bases.
    """
    visible, params = _sets_visible_sql(user)
    found = row(f"SELECT b.length, b.chunk_size {_REFERENCES_FROM} WHERE b.id = %s AND {visible}", [reference_id, *params])
    if found is None:
        raise NotFound("Reference not found")
    length, chunk_size = found
    start = 0 if start is None else start
    if start < 0:
        raise BadRequest("start must be a non-negative integer")
    if end is not None and end < 0:
        raise BadRequest("end must be a non-negative integer")
    if end is not None and start > end:
        raise BadRequest("start must not be greater than end")
    if start >= length and not (start == 0 and length == 0):
        raise BadRequest(f"start is past the end of the reference (length {length})")
    end = length if end is None else min(end, length)
    position = start
    if page_token:
        start, position, end = _page_token_loads(page_token, reference_id)
        if not 0 <= start <= position <= end <= length:
            raise BadRequest("Invalid pageToken")
    stop = min(position + page_size, end)
    sequence = bases_read(reference_id=reference_id, chunk_size=chunk_size, start=position, stop=stop)
    next_token = _page_token_dumps(reference_id, start, stop, end) if stop < end else None
    return BasesPage(sequence=sequence, offset=position, next_page_token=next_token, start=start, end=end, page_size=page_size)


# Searches ----------------------------------------------------------------------------------


def search_get_visible(*, user, search_id: str, kind: str) -> Search:
    """A live search of that kind made by this user (anonymous searches: by anonymous users);
    an unsaved model of its id, criteria and page size (one query, written once: it runs on
    every page of results)."""
    if user is not None and getattr(user, "is_authenticated", False) and getattr(user, "pk", None) is not None:
        owner, params = "s.user_id = %s", [user.pk]
    else:
        owner, params = "s.user_id IS NULL", []
    found = row(
        f"SELECT s.criteria, s.page_size FROM brapi_search s WHERE s.id = %s AND s.kind = %s AND s.expires_at > %s AND {owner}",
        [search_id, kind, timezone.now(), *params],
    )
    if found is None:
        raise NotFound("Search results not found")
    return Search(id=search_id, kind=kind, criteria=json_value(found[0]), page_size=found[1])


# API documents ---------------------------------------------------------------------------------
# Lists and details read in SQL (visibility as `referencesets_visible`, criteria as
# `references_filter` / `referencesets_filter` compiled into a subquery when there are any) into
# the documents of brapi.api.serializers, with the page's external references in one query.

_REFERENCE_COLUMNS = (
    "id", "name", "length", "md5checksum", "ga4gh_digest", "accession", "is_derived", "source_uri",
    "source_divergence", "species_term", "species_term_uri", "additional_info", "reference_set_id",
)
_SET_COLUMNS = (
    "id", "name", "description", "assembly_pui", "accession", "md5checksum", "is_derived", "species_term",
    "species_term_uri", "common_crop_name", "source_uri", "additional_info",
)
_REFERENCES_FROM = "FROM brapi_reference b INNER JOIN brapi_referenceset s ON s.id = b.reference_set_id"


def _sets_visible_sql(user) -> tuple[str, list]:
    """`referencesets_visible` as an SQL condition on the set row `s`."""
    visible, params = references_visible_sql(user, "r")
    imported = "s.reference_id IS NULL" + ("" if _is_administrator(user) else " AND s.public")
    published = f"s.reference_id IS NOT NULL AND s.reference_id IN (SELECT r.id FROM refs_reference r WHERE {visible})"
    return f"(({published}) OR ({imported}))", params


def _sets_visible_filter(user, column: str) -> tuple[str, list]:
    """`column` (a reference set id) names a set the user may see, as an SQL condition.

    On PostgreSQL the visible sets are an array computed once: the planner then reads
    references in (set, position) order from their unique index and stops at the page, where
    the semi-join it makes of `IN (SELECT ...)` sorts every visible reference first."""
    visible, params = _sets_visible_sql(user)
    sets = f"SELECT s.id FROM brapi_referenceset s WHERE {visible}"
    if connection.vendor == "postgresql":
        return f"{column} = ANY(ARRAY({sets}))", params
    return f"{column} IN ({sets})", params


def _criteria_sql(queryset: QuerySet, column: str) -> tuple[str, list]:
    """The criteria a filtered queryset holds, as `AND column IN (subquery)`; nothing when it
    holds none (a plain list compiles no ORM query)."""
    from django.core.exceptions import EmptyResultSet

    if queryset.query.is_empty():
        return " AND 1 = 0", []
    if not queryset.query.where:
        return "", []
    try:
        sql, params = queryset.values("id").query.sql_with_params()
    except EmptyResultSet:  # a criterion that can match nothing (its values can't be stored)
        return " AND 1 = 0", []
    return f" AND {column} IN ({sql})", list(params)


def _externals_read(column: str, ids: list[str]) -> dict[str, list[dict]]:
    from brapi.api.serializers import external_document

    found: dict[str, list[dict]] = {}
    if ids:
        for owner, external_id, source in rows(
            f"SELECT e.{column}, e.external_id, e.external_source FROM brapi_externalreference e "
            f"WHERE e.{column} IN ({', '.join(['%s'] * len(ids))}) ORDER BY e.id",
            ids,
        ):
            found.setdefault(owner, []).append(external_document(external_id, source))
    return found


def _values(columns: tuple, found: tuple) -> dict:
    values = dict(zip(columns, found))
    values["additional_info"] = json_value(values["additional_info"])
    values["is_derived"] = flag(values["is_derived"])
    return values


@dataclass
class Listing:
    """A list's count and pages, read in SQL (`count()` then `page(offset, limit)`)."""

    count_sql: str
    page_sql: str
    params: list
    document: object  # callable(row values) -> dict, given the page's externals

    def count(self) -> int:
        return row(self.count_sql, self.params)[0]

    def page(self, offset: int, limit: int) -> list[dict]:
        return self.document(rows(self.page_sql, [*self.params, limit, offset]))


def _reference_documents(found: list[tuple]) -> list[dict]:
    from brapi.api.serializers import reference_document_of

    externals = _externals_read("reference_id", [values[0] for values in found])
    documents = []
    for values in found:
        fields = _values(_REFERENCE_COLUMNS, values[: len(_REFERENCE_COLUMNS)])
        fields["set_name"], fields["set_common_crop_name"] = values[len(_REFERENCE_COLUMNS) :]
        documents.append(reference_document_of(fields, externals.get(fields["id"], [])))
    return documents


def _referenceset_documents(found: list[tuple]) -> list[dict]:
    from brapi.api.serializers import referenceset_document_of

    externals = _externals_read("reference_set_id", [values[0] for values in found])
    return [referenceset_document_of(_values(_SET_COLUMNS, values), externals.get(values[0], [])) for values in found]


def references_listing(*, user, criteria: dict) -> Listing:
    visible, params = _sets_visible_filter(user, "b.reference_set_id")
    criteria_sql, criteria_params = _criteria_sql(references_filter(Reference.objects.all(), criteria), "b.id")
    where = f"WHERE {visible}{criteria_sql}"
    columns = ", ".join(f"b.{column}" for column in _REFERENCE_COLUMNS)
    return Listing(
        count_sql=f"SELECT COUNT(*) {_REFERENCES_FROM} {where}",
        page_sql=f"SELECT {columns}, s.name, s.common_crop_name {_REFERENCES_FROM} {where} "
        "ORDER BY b.reference_set_id, b.position LIMIT %s OFFSET %s",
        params=[*params, *criteria_params],
        document=_reference_documents,
    )


def referencesets_listing(*, user, criteria: dict) -> Listing:
    visible, params = _sets_visible_sql(user)
    criteria_sql, criteria_params = _criteria_sql(referencesets_filter(ReferenceSet.objects.all(), criteria), "s.id")
    where = f"WHERE {visible}{criteria_sql}"
    columns = ", ".join(f"s.{column}" for column in _SET_COLUMNS)
    return Listing(
        count_sql=f"SELECT COUNT(*) FROM brapi_referenceset s {where}",
        page_sql=f"SELECT {columns} FROM brapi_referenceset s {where} ORDER BY s.created_at, s.id LIMIT %s OFFSET %s",
        params=[*params, *criteria_params],
        document=_referenceset_documents,
    )


def reference_document_read(*, user, reference_id: str) -> dict:
    visible, params = _sets_visible_sql(user)
    columns = ", ".join(f"b.{column}" for column in _REFERENCE_COLUMNS)
    found = rows(
        f"SELECT {columns}, s.name, s.common_crop_name {_REFERENCES_FROM} WHERE b.id = %s AND {visible}",
        [reference_id, *params],
    )
    if not found:
        raise NotFound("Reference not found")
    return _reference_documents(found)[0]


def referenceset_document_read(*, user, reference_set_id: str) -> dict:
    visible, params = _sets_visible_sql(user)
    columns = ", ".join(f"s.{column}" for column in _SET_COLUMNS)
    found = rows(f"SELECT {columns} FROM brapi_referenceset s WHERE s.id = %s AND {visible}", [reference_set_id, *params])
    if not found:
        raise NotFound("ReferenceSet not found")
    return _referenceset_documents(found)[0]
