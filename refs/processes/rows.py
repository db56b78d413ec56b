"""An OTU's joined document and its unsaved rows, made from reference-file form, and the
Virtool ids they need, drawn in bulk.

`otu_build` gives exactly the document refs.documents.otu_document reads back once the rows
are written, so history diffs taken against it hold.
"""

import os
from collections.abc import Callable
from dataclasses import dataclass

from django.utils import timezone

from refs.documents import otu_issues
from virtool_site.ids import ID_ALPHABET


class IdPool:
    """Virtool ids (8 of [a-z0-9]) drawn in bulk from os.urandom: unbiased (bytes of 252 and
    up, 252 = 7 x 36, are dropped) and far faster than a `secrets.choice` per character."""

    def __init__(self):
        self._ids: list[str] = []

    def _refill(self, count: int):
        text = "".join(ID_ALPHABET[b % 36] for b in os.urandom(count * 9 + 64) if b < 252)
        self._ids.extend(text[i : i + 8] for i in range(0, len(text) - 7, 8))

    def take(self, count: int) -> list[str]:
        while len(self._ids) < count:
            self._refill(max(count - len(self._ids), 256))
        taken, self._ids = self._ids[:count], self._ids[count:]
        return taken

    def __call__(self, *_) -> str:
        if not self._ids:
            self._refill(256)
        return self._ids.pop()


new_id = IdPool()


def otu_label(document: dict) -> str:
    """"Abaca bunchy top virus (ABTV)": how Virtool's change descriptions name an OTU."""
    abbreviation = document.get("abbreviation")
    return f"{document['name']} ({abbreviation})" if abbreviation else document["name"]


@dataclass
class OTURows:
    """An OTU's unsaved rows as {attname: value} dicts; a sequence row's `_isolate` is its
    isolate row, whose id is known only when written."""

    otu: dict
    isolates: list[dict]
    sequences: list[dict]


def otu_build(
    source: dict,
    *,
    otu_id: str,
    reference_id: str,
    version: int = 0,
    imported: bool = False,
    remote: bool = False,
    last_indexed_version: int | None = None,
    sequence_id: Callable[[dict], str] | None = None,
    created_at=None,
) -> tuple[dict, OTURows]:
    """The joined document and unsaved rows of an OTU made from `source`.

    `source` is in reference-file form (a normalised file OTU, or a joined document). The
    document is exactly what refs.documents.otu_document reads back, so history diffs taken
    against it hold. `remote` keeps the source's ids as remote ids.
    """
    sequence_id = sequence_id or new_id
    otu_row = {
        "id": otu_id,
        "reference_id": reference_id,
        "name": source["name"],
        "abbreviation": source.get("abbreviation") or "",
        "schema": source.get("schema") or [],
        "taxid": source.get("taxid"),
        "version": version,
        "last_indexed_version": last_indexed_version,
        "verified": False,
        "imported": imported,
        "remote_id": source["_id"] if remote else None,
        "created_at": created_at or timezone.now(),
    }
    isolate_rows, sequence_rows, isolate_documents = [], [], []
    for position, source_isolate in enumerate(source["isolates"]):
        isolate_row = {
            "id": None,
            "otu_id": otu_id,
            "isolate_id": source_isolate["id"],
            "position": position,
            "source_type": source_isolate["source_type"],
            "source_name": source_isolate["source_name"],
            "default": source_isolate["default"],
        }
        isolate_rows.append(isolate_row)
        sequence_documents = []
        for sequence_position, source_sequence in enumerate(source_isolate["sequences"]):
            document = {
                "_id": sequence_id(source_sequence),
                "accession": source_sequence["accession"],
                "definition": source_sequence["definition"],
                "host": source_sequence["host"],
                "segment": source_sequence.get("segment"),
                "sequence": source_sequence["sequence"],
            }
            sequence_rows.append(
                {
                    "id": document["_id"],
                    "otu_id": otu_id,
                    "isolate_id": None,
                    "_isolate": isolate_row,
                    "position": sequence_position,
                    "accession": document["accession"],
                    "definition": document["definition"],
                    "host": document["host"],
                    "segment": document["segment"],
                    "sequence": document["sequence"],
                    "remote_id": source_sequence["_id"] if remote else None,
                }
            )
            if remote:
                document["remote"] = {"id": source_sequence["_id"]}
            sequence_documents.append(document)
        isolate_documents.append(
            {
                "id": isolate_row["isolate_id"],
                "source_type": isolate_row["source_type"],
                "source_name": isolate_row["source_name"],
                "default": isolate_row["default"],
                "sequences": sequence_documents,
            }
        )
    document = {
        "_id": otu_id,
        "name": otu_row["name"],
        "abbreviation": otu_row["abbreviation"],
        "schema": otu_row["schema"],
        "taxid": otu_row["taxid"],
        "version": version,
        "verified": False,
        "imported": imported,
        "last_indexed_version": last_indexed_version,
        "reference": {"id": reference_id},
        "isolates": isolate_documents,
    }
    if remote:
        document["remote"] = {"id": source["_id"]}
    otu_row["verified"] = document["verified"] = otu_issues(document) is None
    return document, OTURows(otu_row, isolate_rows, sequence_rows)
