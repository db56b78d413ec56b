"""Writes: publishing indexes as reference sets, importing FASTA assemblies, saved searches."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from brapi.models import ExternalReference, Reference, ReferenceChunk, ReferenceSet, Search
from brapi.refget.services import referenceset_seqcol_store
from brapi.selectors import referenceset_md5
from brapi.storage import (
    FASTA_READ_SIZE,
    FastaRecord,
    InvalidFasta,
    bases_clean,
    chunks_write,
    fasta_chunk_rows,
    ga4gh_digest,
    md5_hex,
    sequence_chunk_rows,
)
from history.selectors import otu_document_at_version
from indexes.models import Index
from refs.documents import otu_documents_read
from refs.models import OTU, isolate_name
from virtool_site.errors import BadRequest, NotFound

logger = logging.getLogger(__name__)

VIRTOOL_SOURCE = "virtool"
INDEX_SOURCE = "virtool index"
REFERENCE_SOURCE = "virtool reference"
PUBLISH_BATCH_SEQUENCES = 500
#: OTUs read per chunk, and reads of a chunk before giving up while edits keep committing.
PUBLISH_CHUNK_OTUS = 500
PUBLISH_READ_ATTEMPTS = 5
_ACCESSION_CHARACTERS = set("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.")


def _chunk_size() -> int:
    size = int(settings.BRAPI_CHUNK_SIZE)
    if size < 1:
        raise ValueError("BRAPI_CHUNK_SIZE must be positive")
    return size


def index_fasta_uri(index_id: str) -> str:
    return f"/api/indexes/{index_id}/files/reference.fa.gz"


# Deleting ----------------------------------------------------------------------------------


def referenceset_delete(*, reference_set: ReferenceSet) -> None:
    """Delete a set with its references and bases, without ever loading the bases."""
    with transaction.atomic():
        references = Reference.objects.filter(reference_set=reference_set)
        # Chunks have no dependents and no signals: Django deletes them with one DELETE,
        # never fetching them; so the cascade below finds nothing left to load.
        ReferenceChunk.objects.filter(reference__in=references.values("id")).delete()
        ExternalReference.objects.filter(reference__in=references.values("id")).delete()
        reference_set.delete()


# Publishing indexes ------------------------------------------------------------------------


def _index_otu_documents(index: Index) -> Iterator[dict]:
    """The joined OTU documents of an index at their manifest versions, loaded in chunks."""
    manifest = {str(otu_id): int(version) for otu_id, version in (index.manifest or {}).items()}
    ids = list(OTU.objects.filter(id__in=list(manifest)).order_by("id").values_list("id", flat=True))
    removed = set(manifest) - set(ids)
    for start in range(0, len(ids), PUBLISH_CHUNK_OTUS):
        documents, gone = _otu_chunk_at_manifest(ids[start : start + PUBLISH_CHUNK_OTUS], manifest)
        removed |= gone
        yield from documents
    for otu_id in sorted(removed):
        # Removed since the build: history holds its last document.
        document = otu_document_at_version(otu_id=otu_id, version=manifest[otu_id], current=None)
        if document:
            yield document


def _otu_chunk_at_manifest(otu_ids: list[str], manifest: dict[str, int]) -> tuple[list[dict], set[str]]:
    """Documents of OTUs at their manifest versions, and those of `otu_ids` found removed.

    An OTU's row, its isolates and sequences and its history are read by separate queries, so
    an edit committing between them would tear the document (new bases under the old
    version). The read is kept only when every OTU's version is still the one its document
    says afterwards; otherwise it is read again.
    """
    for _ in range(PUBLISH_READ_ATTEMPTS):
        current = otu_documents_read(otu_ids)
        documents = []
        for otu_id in otu_ids:
            document = current.get(otu_id)
            if document is None:
                continue
            if document.get("version") != manifest[otu_id]:
                document = otu_document_at_version(otu_id=otu_id, version=manifest[otu_id], current=document)
            if document:
                documents.append(document)
        read = {otu_id: document["version"] for otu_id, document in current.items()}
        if dict(OTU.objects.filter(id__in=otu_ids).values_list("id", "version")) == read:
            return documents, set(otu_ids) - set(current)
    raise RuntimeError("OTUs of the index kept changing while they were read; publish again later")


def _default_isolate(document: dict) -> dict | None:
    isolates = document.get("isolates") or []
    for isolate in isolates:
        if isolate.get("default"):
            return isolate
    return isolates[0] if isolates else None


def _info(values: dict) -> dict:
    """additionalInfo holds strings only (BrAPI: additionalProperties are strings)."""
    return {key: str(value) for key, value in values.items() if value not in (None, "")}


def _referenceset_published_fields(index: Index, reference) -> dict:
    return {
        "name": f"{reference.name} {index.version}"[:255],
        "description": reference.description or None,
        "species_term": reference.organism or None,
        "species_term_uri": None,
        "source_uri": index_fasta_uri(index.id),
        "reference": reference,
        "additional_info": _info(
            {
                "virtoolReferenceId": reference.id,
                "virtoolIndexId": index.id,
                "indexVersion": index.version,
                "dataType": reference.data_type,
                "organism": reference.organism,
            }
        ),
    }


def referenceset_publish_index(*, index: Index | str, force: bool = False) -> ReferenceSet | None:
    """Publish a ready index as a ReferenceSet whose References are its sequences.

    Idempotent: an index has at most one set (its id is the index id; a reference's id is
    `{index id}-{sequence id}`). Publishing again refreshes the set's metadata and keeps its
    references; `force` rebuilds them. Returns None (and publishes nothing) for an index that
    is not ready or whose reference is deleted.
    """
    index_id = getattr(index, "pk", index)
    with transaction.atomic():
        # Serialises concurrent publications of the same index.
        index = Index.objects.select_for_update().filter(pk=index_id).first()
        if index is None:
            raise NotFound("Index not found")
        reference = index.reference
        if not index.ready or reference is None or reference.deleted:
            return None
        fields = _referenceset_published_fields(index, reference)
        existing = ReferenceSet.objects.filter(index=index).first()
        if existing is not None and not force:
            for name, value in fields.items():
                setattr(existing, name, value)
            existing.save(update_fields=[*fields.keys()])
            return existing
        if existing is not None:
            referenceset_delete(reference_set=existing)
        reference_set = ReferenceSet.objects.create(id=index.id, index=index, public=False, **fields)
        ExternalReference.objects.bulk_create(
            [
                ExternalReference(reference_set=reference_set, external_id=index.id, external_source=INDEX_SOURCE),
                ExternalReference(reference_set=reference_set, external_id=reference.id, external_source=REFERENCE_SOURCE),
            ]
        )
        _publish_sequences(index, reference_set)
        reference_set.md5checksum = referenceset_md5(reference_set.id)
        reference_set.save(update_fields=["md5checksum"])
        referenceset_seqcol_store(reference_set=reference_set)
    logger.info("Published index %s as BrAPI reference set", index.id)
    return reference_set


def _publish_sequences(index: Index, reference_set: ReferenceSet) -> None:
    chunk_size = _chunk_size()
    source_uri = index_fasta_uri(index.id)
    references: list[Reference] = []
    externals: list[ExternalReference] = []
    bases: list[tuple[str, bytes]] = []
    position = 0
    pending = 0

    def flush():
        nonlocal references, externals, bases, pending
        if not references:
            return
        Reference.objects.bulk_create(references)
        ExternalReference.objects.bulk_create(externals)
        chunks_write(row for reference_id, data in bases for row in sequence_chunk_rows(reference_id, data, chunk_size))
        references, externals, bases, pending = [], [], [], 0

    seen_ids = set()
    for document in _index_otu_documents(index):
        isolate = _default_isolate(document)
        if isolate is None:
            continue
        for sequence in isolate.get("sequences") or []:
            sequence_id = str(sequence.get("_id") or "")
            if not sequence_id or sequence_id in seen_ids:
                continue
            seen_ids.add(sequence_id)
            data = bases_clean(sequence.get("sequence") or "")
            reference_id = f"{index.id}-{sequence_id}"
            accession = (sequence.get("accession") or "").strip()
            references.append(
                Reference(
                    id=reference_id,
                    reference_set=reference_set,
                    position=position,
                    name=(accession or sequence_id)[:255],
                    length=len(data),
                    md5checksum=md5_hex(data),
                    ga4gh_digest=ga4gh_digest(data),
                    accession=accession[:255] or None,
                    source_uri=source_uri,
                    species_term=(document.get("name") or None),
                    additional_info=_info(
                        {
                            "otuId": document.get("_id"),
                            "otuName": document.get("name"),
                            "otuAbbreviation": document.get("abbreviation"),
                            "isolateId": isolate.get("id"),
                            "isolateName": isolate_name(isolate.get("source_type") or "", isolate.get("source_name") or ""),
                            "segment": sequence.get("segment"),
                            "definition": sequence.get("definition"),
                            "host": sequence.get("host"),
                        }
                    ),
                    chunk_size=chunk_size,
                )
            )
            externals.append(ExternalReference(reference_id=reference_id, external_id=sequence_id, external_source=VIRTOOL_SOURCE))
            bases.append((reference_id, data))
            position += 1
            pending += 1
        if pending >= PUBLISH_BATCH_SEQUENCES:
            flush()
    flush()


# Importing FASTA assemblies ----------------------------------------------------------------


def _looks_like_accession(name: str) -> bool:
    """INSDC/RefSeq accessions with a version: NC_003070.9, CM000663.2, GCF_000001405.26."""
    head, dot, version = name.rpartition(".")
    return bool(dot and head and version.isdigit() and set(head) <= _ACCESSION_CHARACTERS and any(c.isdigit() for c in head))


def referenceset_import_fasta(
    *,
    stream,
    name: str,
    species: str | None = None,
    species_uri: str | None = None,
    crop: str | None = None,
    accession: str | None = None,
    description: str | None = None,
    public: bool = True,
    source_uri: str | None = None,
    chunk_size: int | None = None,
    read_size: int = FASTA_READ_SIZE,
    progress: Callable[[int], None] | None = None,
) -> ReferenceSet:
    """Import a genome assembly from a binary FASTA stream as one ReferenceSet, in one pass.

    Bases stream into chunk rows (COPY on PostgreSQL) while each record's length, md5 and GA4GH
    digest are computed; memory stays bounded by a chunk and a read block whatever the record lengths.
    Everything is one transaction: a malformed file leaves nothing behind (BadRequest).
    """
    name = (name or "").strip()
    if not name:
        raise BadRequest("A reference set needs a name")
    chunk_size = chunk_size or _chunk_size()
    records: list[FastaRecord] = []
    with transaction.atomic():
        reference_set = ReferenceSet.objects.create(
            name=name[:255],
            description=description or None,
            accession=accession or None,
            species_term=species or None,
            species_term_uri=species_uri or None,
            common_crop_name=crop or None,
            source_uri=source_uri,
            public=public,
        )
        try:
            # Chunks go in before their Reference rows: foreign keys are checked at commit.
            rows = fasta_chunk_rows(stream, chunk_size=chunk_size, records=records, read_size=read_size, progress=progress)
            chunks_write(rows, prefetch=True)
        except InvalidFasta as error:
            raise BadRequest(str(error)) from None
        if not records:
            raise BadRequest("No sequences in the FASTA file")
        Reference.objects.bulk_create(
            (
                Reference(
                    id=record.id,
                    reference_set=reference_set,
                    position=record.position,
                    name=record.name,
                    length=record.length,
                    md5checksum=record.md5checksum,
                    ga4gh_digest=record.ga4gh_digest,
                    accession=record.name if _looks_like_accession(record.name) else None,
                    species_term=species or None,
                    species_term_uri=species_uri or None,
                    source_uri=source_uri,
                    additional_info=_info({"description": record.description}),
                    chunk_size=chunk_size,
                )
                for record in records
            ),
            batch_size=1000,
        )
        reference_set.md5checksum = referenceset_md5(reference_set.id)
        reference_set.save(update_fields=["md5checksum"])
        referenceset_seqcol_store(reference_set=reference_set)
    return reference_set


# Searches ----------------------------------------------------------------------------------


def searches_expire() -> int:
    deleted, _ = Search.objects.filter(expires_at__lte=timezone.now()).delete()
    return deleted


def _storable_criteria(criteria: dict) -> dict:
    """Criteria without values PostgreSQL can't store (NUL); such a value matches nothing, so
    dropping it from an ORed list changes nothing. (A list of nothing but such values
    matches nothing at all: that search has no results and is never saved.)"""
    stored = {}
    for key, value in criteria.items():
        if isinstance(value, list):
            value = [item for item in value if "\x00" not in item]
            if not value:
                raise ValueError(f"criteria {key} match nothing; such a search is not saved")
        stored[key] = value
    return stored


def search_create(*, user, kind: str, criteria: dict, page_size: int) -> Search:
    """Save a search for its maker; it expires after BRAPI_SEARCH_TTL_SECONDS."""
    criteria = _storable_criteria(criteria)
    searches_expire()
    now = timezone.now()
    owner = user if (user is not None and user.is_authenticated and getattr(user, "pk", None) is not None) else None
    return Search.objects.create(
        kind=kind,
        criteria=criteria,
        page_size=page_size,
        user=owner,
        created_at=now,
        expires_at=now + timedelta(seconds=settings.BRAPI_SEARCH_TTL_SECONDS),
    )
