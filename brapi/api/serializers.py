"""BrAPI documents and the response envelope.

Plain functions rather than DRF serializers: lists run to thousands of items per page, and
every field of the BrAPI object is emitted, null where unknown (BRAVA requires them all).
"""

from __future__ import annotations

import math


SUCCESS_STATUS = [{"message": "Request accepted, response successful", "messageType": "INFO"}]


def pagination(*, page: int, page_size: int, total_count: int) -> dict:
    return {
        "currentPage": page,
        "pageSize": page_size,
        "totalCount": total_count,
        "totalPages": math.ceil(total_count / page_size) if page_size else 0,
    }


SINGLE_PAGINATION = {"currentPage": 0, "pageSize": 1, "totalCount": 1, "totalPages": 1}


def envelope(result, *, page_info: dict | None = None, status: list | None = None) -> dict:
    return {
        "metadata": {
            "datafiles": [],
            "pagination": page_info if page_info is not None else dict(SINGLE_PAGINATION),
            "status": status if status is not None else list(SUCCESS_STATUS),
        },
        "result": result,
    }


def _species(term: str | None, term_uri: str | None) -> dict | None:
    if term is None and term_uri is None:
        return None
    return {"term": term, "termURI": term_uri}


def external_document(external_id: str, external_source: str) -> dict:
    return {"referenceId": external_id, "referenceSource": external_source}


def referenceset_document_of(values: dict, externals: list[dict]) -> dict:
    """A ReferenceSet from its column values (by field attribute name): the one place its shape
    is written, for models and for rows alike."""
    accession = values["accession"]
    return {
        "additionalInfo": values["additional_info"] or {},
        "assemblyPUI": values["assembly_pui"],
        "commonCropName": values["common_crop_name"],
        "description": values["description"],
        "externalReferences": externals,
        "isDerived": values["is_derived"],
        "md5checksum": values["md5checksum"] or None,
        "referenceSetDbId": values["id"],
        "referenceSetName": values["name"],
        "sourceAccessions": [accession] if accession else [],
        "sourceGermplasm": [],
        "sourceURI": values["source_uri"],
        "species": _species(values["species_term"], values["species_term_uri"]),
    }


def reference_document_of(values: dict, externals: list[dict]) -> dict:
    """A Reference from its column values (by field attribute name, with its set's `set_name`
    and `set_common_crop_name`): the one place its shape is written, for models and rows alike."""
    # additionalInfo, with the refget GA4GH identifier of the bases (`ga4ghDigest`).
    info = dict(values["additional_info"] or {})
    if values["ga4gh_digest"]:
        info["ga4ghDigest"] = values["ga4gh_digest"]
    accession = values["accession"]
    return {
        "additionalInfo": info,
        "commonCropName": values["set_common_crop_name"],
        "externalReferences": externals,
        "isDerived": values["is_derived"],
        "length": values["length"],
        "md5checksum": values["md5checksum"] or None,
        "referenceDbId": values["id"],
        "referenceName": values["name"],
        "referenceSetDbId": values["reference_set_id"],
        "referenceSetName": values["set_name"],
        "sourceAccessions": [accession] if accession else [],
        "sourceDivergence": values["source_divergence"],
        "sourceGermplasm": [],
        "sourceURI": values["source_uri"],
        "species": _species(values["species_term"], values["species_term_uri"]),
    }
