"""Loading the real reference file (or its first OTUs) for index tests and the index benchmark.

Streams the file with ijson and writes rows with bulk_create a batch at a time, with one
`import` change per OTU, so a reference looks as an import leaves it: every OTU unbuilt.
"""

import gzip
from collections.abc import Iterator
from itertools import islice

import ijson

from history.models import Change
from history.services import change_build
from refs.documents import otu_document, otu_issues, otus_with_children
from refs.models import OTU, Isolate, Reference, ReferenceUser, Sequence
from virtool_site.ids import random_id


def reference_file_otus(path) -> Iterator[dict]:
    with gzip.open(path, "rb") as handle:
        yield from ijson.items(handle, "otus.item", use_float=True)


def _issues_free(otu: dict) -> bool:
    document = {
        "isolates": [
            {"id": i.get("id"), "sequences": [{"_id": s.get("_id"), "sequence": s.get("sequence")} for s in i.get("sequences") or []]}
            for i in otu.get("isolates") or []
        ]
    }
    return otu_issues(document) is None


def reference_file_load(path, *, user, name: str = "Plant viruses", limit: int | None = None, batch_size: int = 250) -> Reference:
    """A new reference holding the file's OTUs (the first `limit` when given)."""
    reference = Reference.objects.create(name=name, data_type="genome", organism="virus", user=user)
    ReferenceUser.objects.create(reference=reference, user=user, build=True, modify=True, modify_otu=True, remove=True)
    otus = reference_file_otus(path)
    if limit is not None:
        otus = islice(otus, limit)
    while True:
        batch = list(islice(otus, batch_size))
        if not batch:
            break
        _batch_load(reference, batch, user)
    return reference


def _batch_load(reference: Reference, batch: list[dict], user) -> None:
    otu_rows, isolate_rows, sequence_specs = [], [], []
    for document in batch:
        otu = OTU(
            id=random_id(),
            reference=reference,
            name=document["name"],
            abbreviation=document.get("abbreviation") or "",
            schema=document.get("schema") or [],
            taxid=document.get("taxid"),
            verified=_issues_free(document),
            imported=True,
            remote_id=document.get("_id"),
        )
        otu_rows.append(otu)
        for isolate_position, isolate in enumerate(document.get("isolates") or []):
            isolate_row = Isolate(
                otu=otu,
                isolate_id=isolate["id"],
                position=isolate_position,
                source_type=isolate.get("source_type") or "unknown",
                source_name=isolate.get("source_name") or "",
                default=bool(isolate.get("default")),
            )
            isolate_rows.append(isolate_row)
            for sequence_position, sequence in enumerate(isolate.get("sequences") or []):
                sequence_specs.append((otu, isolate_row, sequence_position, sequence))
    OTU.objects.bulk_create(otu_rows)
    Isolate.objects.bulk_create(isolate_rows)
    Sequence.objects.bulk_create(
        Sequence(
            id=random_id(),
            otu=otu,
            isolate=isolate_row,
            position=position,
            accession=sequence.get("accession") or "",
            definition=sequence.get("definition") or "",
            host=sequence.get("host") or "",
            segment=sequence.get("segment"),
            sequence=sequence.get("sequence") or "",
        )
        for otu, isolate_row, position, sequence in sequence_specs
    )
    loaded = otus_with_children(OTU.objects.filter(id__in=[otu.id for otu in otu_rows]))
    Change.objects.bulk_create(
        change_build(
            method_name="import", description=f"Imported {otu.name}", old=None, new=otu_document(otu), user=user
        )
        for otu in loaded
    )
