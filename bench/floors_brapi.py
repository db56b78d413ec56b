"""Raw-SQL floors of the BrAPI endpoints (see bench/floors.py: one psycopg2 query, its values
into dicts, `orjson.dumps`; each takes a cursor and the endpoint's URL and returns the body)."""

if __name__ == "__main__":  # `make bench` runs every bench/*.py; this one is a library
    raise SystemExit(0)

import orjson
from _floor_sql import _fetch, _json, _parts

_SUCCESS = [{"message": "Request accepted, response successful", "messageType": "INFO"}]


def _brapi(result, page: int, page_size: int, total: int) -> bytes:
    return orjson.dumps({"metadata": {"datafiles": [], "pagination": {"currentPage": page, "pageSize": page_size,
                         "totalCount": total, "totalPages": -(-total // page_size)}, "status": _SUCCESS}, "result": result})


_EXTERNALS = """(SELECT json_agg(json_build_object('referenceId', e.external_id, 'referenceSource', e.external_source)
    ORDER BY e.id) FROM brapi_externalreference e WHERE e.{owner} = {alias}.id)"""
#: References (the page or the one, `{rows}`, read first), then their external references.
_BRAPI_REFERENCE = f"""SELECT b.additional_info, b.ga4gh_digest, b.set_crop, {_EXTERNALS.format(owner="reference_id", alias="b")},
    b.is_derived, b.length, b.md5checksum, b.id, b.name, b.reference_set_id, b.set_name, b.accession, b.source_divergence,
    b.source_uri, b.species_term, b.species_term_uri, b.total
    FROM (SELECT b.*, s.name AS set_name, s.common_crop_name AS set_crop, {{total}} AS total
          FROM brapi_reference b INNER JOIN brapi_referenceset s ON s.id = b.reference_set_id {{rows}}) b
    ORDER BY b.reference_set_id, b.position"""


def _species(term, term_uri) -> dict | None:
    return None if term is None and term_uri is None else {"term": term, "termURI": term_uri}


def _brapi_reference(values) -> dict:
    (info, digest, crop, externals, derived, length, md5, reference_id, name, set_id, set_name, accession, divergence,
     source_uri, term, term_uri) = values[:16]
    info = orjson.loads(info) if info else {}
    if digest:
        info["ga4ghDigest"] = digest
    return {"additionalInfo": info, "commonCropName": crop, "externalReferences": _json(externals) or [],
            "isDerived": derived, "length": length, "md5checksum": md5 or None, "referenceDbId": reference_id,
            "referenceName": name, "referenceSetDbId": set_id, "referenceSetName": set_name,
            "sourceAccessions": [accession] if accession else [], "sourceDivergence": divergence, "sourceGermplasm": [],
            "sourceURI": source_uri, "species": _species(term, term_uri)}


def _brapi_references(cursor, page: int, page_size: int) -> bytes:
    found = _fetch(cursor, _BRAPI_REFERENCE.format(total="(SELECT COUNT(*) FROM brapi_reference)",
                                                   rows="ORDER BY b.reference_set_id, b.position LIMIT %s OFFSET %s"),
                   [page_size, page * page_size])
    return _brapi({"data": [_brapi_reference(values) for values in found]}, page, page_size, found[0][-1] if found else 0)


def brapi_references(cursor, url):
    _, query = _parts(url)
    return _brapi_references(cursor, int(query.get("page", 0)), int(query.get("pageSize", 1000)))


def brapi_search_references(cursor, url):
    """A saved search of references (the benchmark's has no criteria), paged by the URL."""
    path, query = _parts(url)
    _fetch(cursor, "SELECT criteria FROM brapi_search WHERE id = %s", [path[-1]])
    return _brapi_references(cursor, int(query.get("page", 0)), int(query.get("pageSize", 1000)))


def brapi_reference(cursor, url):
    path, _ = _parts(url)
    values = _fetch(cursor, _BRAPI_REFERENCE.format(total="1", rows="WHERE b.id = %s"), [path[-1]])[0]
    return _brapi(_brapi_reference(values), 0, 1, 1)


_SET = f"""SELECT s.additional_info, s.assembly_pui, s.common_crop_name, s.description,
    {_EXTERNALS.format(owner="reference_set_id", alias="s")}, s.is_derived, s.md5checksum, s.id, s.name, s.accession,
    s.source_uri, s.species_term, s.species_term_uri{{extra}} FROM brapi_referenceset s"""


def _set(values) -> dict:
    info, pui, crop, description, externals, derived, md5, set_id, name, accession, source_uri, term, term_uri = values[:13]
    return {"additionalInfo": _json(info) or {}, "assemblyPUI": pui, "commonCropName": crop, "description": description,
            "externalReferences": _json(externals) or [], "isDerived": derived, "md5checksum": md5 or None,
            "referenceSetDbId": set_id, "referenceSetName": name, "sourceAccessions": [accession] if accession else [],
            "sourceGermplasm": [], "sourceURI": source_uri, "species": _species(term, term_uri)}


def _referencesets(cursor, page: int, page_size: int) -> bytes:
    found = _fetch(cursor, _SET.format(extra=", (SELECT COUNT(*) FROM brapi_referenceset)") + " ORDER BY s.created_at, s.id LIMIT %s OFFSET %s",
                   [page_size, page * page_size])
    return _brapi({"data": [_set(values) for values in found]}, page, page_size, found[0][-1] if found else 0)


def referencesets(cursor, url):
    _, query = _parts(url)
    return _referencesets(cursor, int(query.get("page", 0)), int(query.get("pageSize", 1000)))


def brapi_search_referencesets(cursor, url):
    """A saved search of reference sets (the benchmark's has no criteria), paged by the URL."""
    path, query = _parts(url)
    _fetch(cursor, "SELECT criteria FROM brapi_search WHERE id = %s", [path[-1]])
    return _referencesets(cursor, int(query.get("page", 0)), int(query.get("pageSize", 1000)))


def referenceset(cursor, url):
    path, _ = _parts(url)
    return _brapi(_set(_fetch(cursor, _SET.format(extra="") + " WHERE s.id = %s", [path[-1]])[0]), 0, 1, 1)


def commoncropnames(cursor, url):
    names = [name for (name,) in _fetch(cursor, "SELECT DISTINCT common_crop_name FROM brapi_referenceset "
                                                "WHERE common_crop_name <> '' ORDER BY 1")]
    return _brapi({"data": names}, 0, 1000, len(names))


def bases(cursor, url):
    """The first page (BRAPI_BASES_PAGE_SIZE bases) of the reference, from its first chunk, with
    the signed token of the next page when there is one (as the endpoint signs it)."""
    from django.conf import settings
    from django.core import signing

    path, _ = _parts(url)
    page_size = int(settings.BRAPI_BASES_PAGE_SIZE)
    reference_id = path[3]
    length, sequence = _fetch(cursor, """SELECT b.length, substr(c.bases, 1, %s) FROM brapi_reference b
        LEFT JOIN brapi_referencechunk c ON c.reference_id = b.id AND c."index" = 0 WHERE b.id = %s""", [page_size, reference_id])[0]
    stop = min(page_size, length)
    token = signing.dumps([reference_id, 0, stop, length], salt="brapi.bases.page", compress=False) if stop < length else None
    return _brapi({"nextPageToken": token, "offset": 0, "sequence": sequence or ""}, 0, page_size, length)
