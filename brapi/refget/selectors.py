"""Reads: refget sequences and sequence collections, with BrAPI's visibility.

A caller sees a sequence or a collection exactly when BrAPI shows them its Reference or
ReferenceSet (`brapi.selectors.references_visible` / `referencesets_visible`). The same bases
may be stored more than once (every index republishes unchanged sequences; two imports of
one assembly): any visible copy answers, since identical digests mean identical bases.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from brapi.models import Reference, ReferenceSet
from brapi.refget.digests import LEVEL2_ATTRIBUTES, SEQCOL_FIELDS, seqcol_level2
from brapi.refget.http import SequenceId, seqcol_digest_valid, sequence_id_parse
from brapi.selectors import references_visible, referencesets_visible
from virtool_site.errors import Conflict, NotFound

#: Columns a sequence request needs (never the bases: those are read by range).
SEQUENCE_FIELDS = ("id", "reference_set_id", "length", "chunk_size", "md5checksum", "ga4gh_digest", "accession")
#: At most this many stored copies of a sequence lend their aliases to its metadata.
ALIAS_SOURCES_MAX = 100
BRAPI_AUTHORITY = "brapi"
_REFSEQ = re.compile(r"[A-Z]{2}_")


# Sequences ---------------------------------------------------------------------------------


def _sequences_matching(user, parsed: SequenceId):
    references = references_visible(user).only(*SEQUENCE_FIELDS).order_by("id")
    if parsed.kind == "md5":
        return references.filter(md5checksum=parsed.value)
    if parsed.kind == "ga4gh":
        return references.filter(ga4gh_digest=parsed.value)
    return references.filter(accession=parsed.value)


def sequence_get_visible(*, user, identifier: str) -> Reference:
    """The sequence an identifier names, if the user may see a copy of it.

    404 for an identifier of no visible sequence (or of no supported kind); 409 for an
    accession naming different sequences.
    """
    parsed = sequence_id_parse(identifier)
    if parsed is None:
        raise NotFound("Sequence not found")
    references = _sequences_matching(user, parsed)
    if parsed.kind == "accession":
        checksums = list(references.order_by().values_list("md5checksum", flat=True).distinct()[:2])
        if len(checksums) > 1:
            raise Conflict(f"{identifier} names more than one sequence")
    reference = references.first()
    if reference is None:
        raise NotFound("Sequence not found")
    return reference


def accession_authority(accession: str) -> str:
    """RefSeq accessions have a two-letter prefix and an underscore (NC_045512.2)."""
    return "refseq" if _REFSEQ.match(accession) else "insdc"


def sequence_aliases(*, user, reference: Reference) -> list[dict]:
    """Accessions and BrAPI referenceDbIds of the visible copies of the sequence."""
    copies = (
        references_visible(user)
        .filter(md5checksum=reference.md5checksum, ga4gh_digest=reference.ga4gh_digest)
        .order_by("id")
        .values_list("id", "accession")[:ALIAS_SOURCES_MAX]
    )
    aliases, seen = [], set()
    for reference_id, accession in copies:
        for alias, authority in ((accession, accession_authority(accession or "")), (reference_id, BRAPI_AUTHORITY)):
            if alias and (alias, authority) not in seen:
                seen.add((alias, authority))
                aliases.append({"alias": alias, "naming_authority": authority})
    return aliases


# Collections -------------------------------------------------------------------------------


def collection_rows(reference_set_id: str) -> Iterator[tuple[str, int, str]]:
    """(name, length, GA4GH identifier) of a set's references in position order, streamed."""
    rows = (
        Reference.objects.filter(reference_set_id=reference_set_id)
        .order_by("position")
        .values_list("name", "length", "ga4gh_digest")
    )
    return rows.iterator(chunk_size=10_000)


def _collections_visible(user):
    return referencesets_visible(user).exclude(seqcol_digest="")


def collection_get_visible(*, user, digest: str) -> ReferenceSet:
    reference_set = None
    if seqcol_digest_valid(digest):
        reference_set = _collections_visible(user).filter(seqcol_digest=digest).order_by("created_at", "id").first()
    if reference_set is None:
        raise NotFound("Collection not found")
    return reference_set


def collection_level1(reference_set: ReferenceSet) -> dict[str, str]:
    return {attribute: getattr(reference_set, field) for attribute, field in SEQCOL_FIELDS.items()}


def collection_level2(reference_set: ReferenceSet) -> dict[str, list]:
    return seqcol_level2(collection_rows(reference_set.id))


def attribute_get_visible(*, user, attribute: str, digest: str) -> list:
    """The level-2 value of an attribute from its level-1 digest (transient ones have none)."""
    reference_set = None
    if attribute in LEVEL2_ATTRIBUTES and seqcol_digest_valid(digest):
        reference_set = (
            _collections_visible(user).filter(**{SEQCOL_FIELDS[attribute]: digest}).order_by("created_at", "id").first()
        )
    if reference_set is None:
        raise NotFound("Attribute not found")
    return collection_level2(reference_set)[attribute]


def _distinct_page(queryset, field: str, *, page: int, page_size: int) -> tuple[list[str], int]:
    values = queryset.order_by(field).values_list(field, flat=True).distinct()
    total = values.count()
    offset = page * page_size
    return (list(values[offset : offset + page_size]) if offset < total else []), total


def collection_digests_list(*, user, filters: dict[str, str], page: int, page_size: int) -> tuple[list[str], int]:
    """Distinct top-level digests of the visible collections whose level-1 digests match every
    filter, a page of them in digest order, and how many there are."""
    collections = _collections_visible(user)
    for attribute, digest in filters.items():
        if not seqcol_digest_valid(digest):
            return [], 0
        collections = collections.filter(**{SEQCOL_FIELDS[attribute]: digest})
    return _distinct_page(collections, "seqcol_digest", page=page, page_size=page_size)


def attribute_digests_list(*, user, attribute: str, page: int, page_size: int) -> tuple[list[str], int]:
    """Distinct level-1 digests of an attribute among the visible collections."""
    if attribute not in SEQCOL_FIELDS:
        raise NotFound("Attribute not found")
    return _distinct_page(_collections_visible(user), SEQCOL_FIELDS[attribute], page=page, page_size=page_size)
