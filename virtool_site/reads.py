"""Helpers of the read paths: SQL rows into plain dicts, values as the API shows them, pages.

The API's list and detail answers are built from a few SQL statements per request, written
once (not compiled by the ORM on every request) and read into plain dicts that the orjson
renderer writes; DRF serializers stay as the answers' documented shapes (drf-spectacular) and
are no longer run on reads. The values here are spelled exactly as the serializers spelled
them: times as DRF's DATETIME_FORMAT in UTC, JSON columns as Django's JSONField decodes them.

SQL runs through Django's connection (so the test suite counts the queries) and is portable:
PostgreSQL and the embedded SQLite give booleans and times in different types, hence `flag`
and `api_time`.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone

import orjson
from django.conf import settings
from django.db import connection
from django.db.models import Count, IntegerField, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce

from virtool_site.api.pagination import OFFSET_MAX, PAGE_PARAMETERS, page_envelope, page_params

_UTC = timezone.utc
_FORMAT = settings.REST_FRAMEWORK.get("DATETIME_FORMAT", "%Y-%m-%dT%H:%M:%S.%fZ")


def rows(sql: str, params=()) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def row(sql: str, params=()) -> tuple | None:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()


def api_time(value: datetime | None) -> str | None:
    """A time as DRF's DateTimeField shows it (UTC, DATETIME_FORMAT); None stays None."""
    if value is None:
        return None
    if value.tzinfo is None:  # SQLite's raw rows: stored in UTC
        return value.strftime(_FORMAT)
    return value.astimezone(_UTC).strftime(_FORMAT)


def json_value(text):
    """A JSON column's value as Django's JSONField decodes it (raw rows give the text)."""
    return json.loads(text) if isinstance(text, (str, bytes)) else text


def json_ints(text):
    """A JSON column that holds no floats (an index manifest: OTU id -> version), decoded by
    orjson: several times faster than `json_value` on thousands of entries, and the same value
    (orjson refuses integers past 64 bits, which `json_value` then reads)."""
    if not isinstance(text, (str, bytes)):
        return text
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)


def flag(value) -> bool | None:
    """A boolean column or expression (SQLite gives 0/1 for expressions)."""
    return None if value is None else bool(value)


def placeholders(values) -> str:
    return ", ".join(["%s"] * len(values))


def icontains(column: str, value: str) -> tuple[str, str]:
    """(condition, param): `column` contains `value`, ignoring case, exactly as the ORM's
    `__icontains` says it on this database (its cast, operator and escaping)."""
    lhs = connection.ops.lookup_cast("icontains", "CharField") % column
    return f"{lhs} {connection.operators['icontains'] % '%s'}", f"%{connection.ops.prep_for_like_query(value)}%"


def subquery_count(queryset: QuerySet, group_field: str, count=None):
    """A correlated COUNT subquery of `queryset` (filtered on an OuterRef), 0 when it has no rows;
    `count` another aggregate than COUNT(*) (e.g. `Count("otu_id", distinct=True)`)."""
    counted = queryset.order_by().values(group_field).annotate(count=count or Count("*")).values("count")
    return Coalesce(Subquery(counted, output_field=IntegerField()), Value(0))


# Pages ---------------------------------------------------------------------------------------


def page_read(request, *, fetch, count, total=None) -> dict:
    """Virtool's page envelope, read as `virtool_site.api.pagination.VirtoolPagination` reads it.

    `fetch(limit, offset)` gives `(documents, found)`, where `found` is the number of documents
    the query matches when it knows it (a `count(*) OVER ()` column), else None; `count()` the
    number of documents matching the query's filters; `total()`, when filters apply, the number
    without them. Counts are read only when not known otherwise: a page that is not full ends
    the list, and without filters the found count is the total count.
    """
    page, per_page = page_params(request)
    unfiltered = PAGE_PARAMETERS.issuperset(request.query_params.keys())
    offset = (page - 1) * per_page
    documents, found = fetch(per_page, offset) if offset < OFFSET_MAX else ([], None)
    if found is None:
        if documents and len(documents) < per_page or not documents and offset == 0:
            found = offset + len(documents)
        elif unfiltered and total is not None:
            found = total()
        else:
            found = count()
    total_count = found if total is None or unfiltered else total()
    return page_envelope(documents=documents, found_count=found, total_count=total_count, page=page, per_page=per_page)
