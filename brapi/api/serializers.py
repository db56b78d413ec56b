"""BrAPI documents and the response envelope.

Plain functions rather than DRF serializers: lists run to thousands of items per page, and
every field of the BrAPI object is emitted, null where unknown (BRAVA requires them all).
"""

from __future__ import annotations

import math

from brapi.models import Reference, ReferenceSet

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


def _externals(item) -> list[dict]:
    return [
        {"referenceId": external.external_id, "referenceSource": external.external_source}
        for external in item.external_references.all()
    ]


def referenceset_document(reference_set: ReferenceSet) -> dict:
    return {
        "additionalInfo": reference_set.additional_info or {},
        "assemblyPUI": reference_set.assembly_pui,
        "commonCropName": reference_set.common_crop_name,
        "description": reference_set.description,
        "externalReferences": _externals(reference_set),
        "isDerived": reference_set.is_derived,
        "md5checksum": reference_set.md5checksum or None,
        "referenceSetDbId": reference_set.id,
        "referenceSetName": reference_set.name,
        "sourceAccessions": [reference_set.accession] if reference_set.accession else [],
        "sourceGermplasm": [],
        "sourceURI": reference_set.source_uri,
        "species": _species(reference_set.species_term, reference_set.species_term_uri),
    }


def _reference_info(reference: Reference) -> dict:
    """additionalInfo, with the refget GA4GH identifier of the bases (`ga4ghDigest`)."""
    info = dict(reference.additional_info or {})
    if reference.ga4gh_digest:
        info["ga4ghDigest"] = reference.ga4gh_digest
    return info


def reference_document(reference: Reference) -> dict:
    reference_set = reference.reference_set
    return {
        "additionalInfo": _reference_info(reference),
        "commonCropName": reference_set.common_crop_name,
        "externalReferences": _externals(reference),
        "isDerived": reference.is_derived,
        "length": reference.length,
        "md5checksum": reference.md5checksum or None,
        "referenceDbId": reference.id,
        "referenceName": reference.name,
        "referenceSetDbId": reference.reference_set_id,
        "referenceSetName": reference_set.name,
        "sourceAccessions": [reference.accession] if reference.accession else [],
        "sourceDivergence": reference.source_divergence,
        "sourceGermplasm": [],
        "sourceURI": reference.source_uri,
        "species": _species(reference.species_term, reference.species_term_uri),
    }
