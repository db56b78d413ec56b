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
from django.db.models import Prefetch, Q, QuerySet
from django.db.models.functions import Collate
from django.utils import timezone

from brapi.models import ExternalReference, Reference, ReferenceSet, Search
from brapi.storage import bases_read
from refs.permissions import references_visible as virtool_references_visible
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


def _external_prefetch() -> Prefetch:
    return Prefetch("external_references", queryset=ExternalReference.objects.order_by("id"))


def referencesets_search(*, user, criteria: dict) -> QuerySet[ReferenceSet]:
    queryset = referencesets_filter(referencesets_visible(user), criteria)
    return queryset.order_by("created_at", "id").prefetch_related(_external_prefetch())


def references_search(*, user, criteria: dict) -> QuerySet[Reference]:
    queryset = references_filter(references_visible(user), criteria)
    return (
        queryset.select_related("reference_set")
        .order_by("reference_set_id", "position")
        .prefetch_related(_external_prefetch())
    )


def referenceset_get_visible(*, user, reference_set_id: str) -> ReferenceSet:
    reference_set = (
        referencesets_visible(user).filter(id=reference_set_id).prefetch_related(_external_prefetch()).first()
    )
    if reference_set is None:
        raise NotFound("ReferenceSet not found")
    return reference_set


def reference_get_visible(*, user, reference_id: str, detail: bool = True) -> Reference:
    """The reference if the user may see it; `detail` loads what its document shows."""
    references = references_visible(user).filter(id=reference_id)
    if detail:
        references = references.select_related("reference_set").prefetch_related(_external_prefetch())
    reference = references.first()
    if reference is None:
        raise NotFound("Reference not found")
    return reference


def commoncropnames_visible(user) -> QuerySet:
    return (
        referencesets_visible(user)
        .exclude(common_crop_name__isnull=True)
        .exclude(common_crop_name="")
        .order_by("common_crop_name")
        .values_list("common_crop_name", flat=True)
        .distinct()
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
    *, reference: Reference, start: int | None, end: int | None, page_token: str | None, page_size: int
) -> BasesPage:
    """A page of bases of `[start, end)`: `page_size` bases from `start` or the token's position.

    start is inclusive, end exclusive and clamped to the length; start must lie within the
    reference (0 is allowed for an empty one) and not after end. The page token is opaque and
    signed; it carries the start, next position and end of the original request and
    overrides them.
    """
    length = reference.length
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
        start, position, end = _page_token_loads(page_token, reference.id)
        if not 0 <= start <= position <= end <= length:
            raise BadRequest("Invalid pageToken")
    stop = min(position + page_size, end)
    sequence = bases_read(reference_id=reference.id, chunk_size=reference.chunk_size, start=position, stop=stop)
    next_token = _page_token_dumps(reference.id, start, stop, end) if stop < end else None
    return BasesPage(sequence=sequence, offset=position, next_page_token=next_token, start=start, end=end, page_size=page_size)


# Searches ----------------------------------------------------------------------------------


def search_get_visible(*, user, search_id: str, kind: str) -> Search:
    """A live search of that kind made by this user (anonymous searches: by anonymous users)."""
    searches = Search.objects.filter(id=search_id, kind=kind, expires_at__gt=timezone.now())
    if user is not None and getattr(user, "is_authenticated", False) and getattr(user, "pk", None) is not None:
        searches = searches.filter(user=user)
    else:
        searches = searches.filter(user__isnull=True)
    search = searches.first()
    if search is None:
        raise NotFound("Search results not found")
    return search
