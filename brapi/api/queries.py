"""Parsing BrAPI query strings and search bodies into one criteria form.

Criteria use the search-body names (`referenceDbIds`, `minLength`, ...): lists of strings
(ORed) and scalars. A value may hold any character; one that cannot be stored (NUL) simply
matches nothing (see `brapi.selectors`). GET parameters map onto them (`referenceDbId` -> `referenceDbIds`; a
repeated parameter gives several values). Unknown parameters and fields are ignored; a value
of the wrong type is a BadRequest with a message naming the parameter.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.conf import settings

from brapi.selectors import UNASSOCIATED_CRITERIA
from virtool_site.api.parsers import MALFORMED, JSONBodyError, json_loads
from virtool_site.errors import BadRequest

_INTEGER = re.compile(r"^[+-]?\d+$")
#: Wider than any length or position; keeps huge numbers out of database integer columns.
INTEGER_LIMIT = 2**62
#: The last page (from 0) a list or search may be asked for. A million pages of at least one
#: item are past any list of references real data makes; past it a request can only be a
#: client's bug, refused as BrAPI refuses any bad parameter (400, a JSON string naming it)
#: rather than answered with an empty page claiming `currentPage` 10**30. A silent cap would
#: report a `currentPage` other than the one asked for, which paging clients would follow.
PAGE_MAX = 1_000_000

COMMON_LISTS = (
    "commonCropNames",
    *UNASSOCIATED_CRITERIA,
    "externalReferenceIds",
    "externalReferenceIDs",
    "externalReferenceSources",
)
REFERENCE_LISTS = (*COMMON_LISTS, "accessions", "md5checksums", "referenceDbIds", "referenceSetDbIds")
REFERENCESET_LISTS = (*COMMON_LISTS, "accessions", "assemblyPUIs", "md5checksums", "referenceSetDbIds")

COMMON_QUERY = {
    "commonCropName": "commonCropNames",
    "programDbId": "programDbIds",
    "trialDbId": "trialDbIds",
    "studyDbId": "studyDbIds",
    "externalReferenceId": "externalReferenceIds",
    "externalReferenceID": "externalReferenceIDs",
    "externalReferenceSource": "externalReferenceSources",
}
REFERENCE_QUERY = {
    **COMMON_QUERY,
    "referenceDbId": "referenceDbIds",
    "referenceSetDbId": "referenceSetDbIds",
    "accession": "accessions",
    "md5checksum": "md5checksums",
}
REFERENCESET_QUERY = {
    **COMMON_QUERY,
    "referenceSetDbId": "referenceSetDbIds",
    "accession": "accessions",
    "assemblyPUI": "assemblyPUIs",
    "md5checksum": "md5checksums",
}


@dataclass(frozen=True)
class Paging:
    page: int
    page_size: int


def _check_text(name: str, value: str) -> str:
    if "\x00" in value:
        raise BadRequest(f"Invalid query parameter {name}: NUL characters are not allowed")
    return value


def _integer(name: str, raw: str) -> int:
    text = raw.strip()
    if not _INTEGER.match(text):
        raise BadRequest(f"Invalid query parameter {name}: expected an integer")
    if len(text.lstrip("+-").lstrip("0")) > 30:  # beyond any limit; spare int() a huge parse
        return -INTEGER_LIMIT if text.startswith("-") else INTEGER_LIMIT
    return max(-INTEGER_LIMIT, min(INTEGER_LIMIT, int(text)))


def _boolean(name: str, raw: str) -> bool:
    text = raw.strip().lower()
    if text == "true":
        return True
    if text == "false":
        return False
    raise BadRequest(f"Invalid query parameter {name}: expected true or false")


def query_integer(query, name: str) -> int | None:
    """An integer parameter; absent is None, present but empty or not an integer is a 400."""
    raw = query.get(name)
    if raw is None:
        return None
    return _integer(name, raw)


def query_text(query, name: str) -> str | None:
    raw = query.get(name)
    if raw is None or raw == "":
        return None
    return _check_text(name, raw)


def paging_resolve(
    page: int | None, page_size: int | None, *, default_size: int | None = None, where: str = "query parameter"
) -> Paging:
    page = 0 if page is None else page
    if page < 0:
        raise BadRequest(f"Invalid {where} page: must be 0 or more")
    if page > PAGE_MAX:
        raise BadRequest(f"Invalid {where} page: must be {PAGE_MAX} or less")
    if page_size is None:
        page_size = default_size or settings.BRAPI_PAGE_SIZE_DEFAULT
    if page_size < 1:
        raise BadRequest(f"Invalid {where} pageSize: must be 1 or more")
    return Paging(page=page, page_size=min(page_size, settings.BRAPI_PAGE_SIZE_MAX))


def paging_from_query(query, *, default_size: int | None = None) -> Paging:
    return paging_resolve(query_integer(query, "page"), query_integer(query, "pageSize"), default_size=default_size)


def criteria_from_query(query, kind: str) -> dict:
    """Criteria from GET parameters of /references (kind "references") or /referencesets."""
    mapping = REFERENCE_QUERY if kind == "references" else REFERENCESET_QUERY
    criteria: dict = {}
    for parameter, key in mapping.items():
        values = [v for v in query.getlist(parameter) if v != ""]
        if values:
            criteria.setdefault(key, []).extend(values)
    if kind == "references":
        if query.get("isDerived") is not None:
            criteria["isDerived"] = _boolean("isDerived", query.get("isDerived"))
        for name in ("minLength", "maxLength"):
            value = query_integer(query, name)
            if value is not None:
                criteria[name] = value
    return criteria


def _body_type_error(name: str, expected: str):
    return BadRequest(f"Malformed JSON Request Object: {name} must be {expected}")


def body_parse(raw: bytes) -> dict:
    """The JSON object of a search request; an empty body is an empty search."""
    if not raw or not raw.strip():
        return {}
    try:
        body = json_loads(raw)  # the API's bounded reader: no depth, however deep, is a 500
    except JSONBodyError as error:  # "...: nested deeper than 32 levels" says why, when it can
        raise BadRequest("Malformed JSON Request Object" + str(error).removeprefix(MALFORMED)) from None
    if not isinstance(body, dict):
        raise BadRequest("Malformed JSON Request Object: expected a JSON object")
    return body


def _body_int(body: dict, name: str) -> int | None:
    if name not in body:
        return None
    value = body[name]
    if isinstance(value, bool) or not isinstance(value, int):
        raise _body_type_error(name, "an integer")
    return max(-INTEGER_LIMIT, min(INTEGER_LIMIT, value))


def criteria_from_body(body: dict, kind: str) -> tuple[dict, int | None, int | None]:
    """(criteria, page, pageSize) of a search request body; fields of the wrong type are 400."""
    lists = REFERENCE_LISTS if kind == "references" else REFERENCESET_LISTS
    criteria: dict = {}
    for name in lists:
        if name not in body:
            continue
        value = body[name]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise _body_type_error(name, "an array of strings")
        if value:
            criteria[name] = value
    if kind == "references":
        if "isDerived" in body:
            if not isinstance(body["isDerived"], bool):
                raise _body_type_error("isDerived", "a boolean")
            criteria["isDerived"] = body["isDerived"]
        for name in ("minLength", "maxLength"):
            value = _body_int(body, name)
            if value is not None:
                criteria[name] = value
    return criteria, _body_int(body, "page"), _body_int(body, "pageSize")
