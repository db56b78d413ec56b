"""Pathoscope results joined with the OTUs they name, as rows, CSV and Excel.

A hit names an OTU at a version (the version in the index the analysis used). Names, isolates
and accessions are taken from the OTU as it was at that version: the current document when the
OTU has not changed since, otherwise the current document patched back through history
(`history.selectors.otu_document_at_version`). After the reference has been deleted the OTU
and its history are gone; the rows then carry the ids the analysis stored.
"""

import csv
import statistics
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font

from history.selectors import otu_document_at_version
from refs.documents import otu_document, otus_with_children
from refs.models import OTU, isolate_name

SEQUENCE_HEADERS = ("OTU", "Isolate", "Sequence", "Length", "Weight", "Median Depth", "Coverage")
OTU_HEADERS = ("OTU", "Abbreviation", "Version", "Isolates", "Sequences", "Weight", "Reads", "Best Coverage")
UNKNOWN_ISOLATE = "Unknown Isolate"


@dataclass
class PathoscopeRow:
    otu_id: str
    otu_version: int
    otu_name: str
    otu_abbreviation: str
    isolate_id: str | None
    isolate_name: str
    sequence_id: str
    accession: str
    definition: str
    length: int | None
    weight: float
    reads: float
    median_depth: float
    coverage: float

    def sequence_cells(self) -> list:
        return [self.otu_name, self.isolate_name, self.accession, self.length, self.weight, self.median_depth, self.coverage]


def median_depth(hit: dict):
    """The median of the per-position depths when the runner sent them, else its `depth`."""
    align = hit.get("align")
    if align:
        return statistics.median(align)
    return hit.get("depth", 0)


def otu_documents_at_versions(pairs: Iterable[tuple[str, int]]) -> dict[tuple[str, int], dict | None]:
    """Joined OTU documents as they were at the given versions.

    Current documents load in a fixed three queries; only OTUs changed since the wanted version
    cost a history lookup each.
    """
    pairs = set(pairs)
    otu_ids = {otu_id for otu_id, _ in pairs}
    current = {otu.id: otu_document(otu) for otu in otus_with_children(OTU.objects.filter(id__in=otu_ids))}
    documents = {}
    for otu_id, version in pairs:
        document = current.get(otu_id)
        if document is None or document["version"] != version:
            document = otu_document_at_version(otu_id=otu_id, version=version, current=document)
        documents[(otu_id, version)] = document
    return documents


def _sequence_index(document: dict | None) -> dict[str, tuple[dict, dict]]:
    if not document:
        return {}
    return {
        sequence["_id"]: (isolate, sequence)
        for isolate in document.get("isolates") or []
        for sequence in isolate.get("sequences") or []
    }


def pathoscope_rows(results: dict) -> Iterator[PathoscopeRow]:
    """One row per hit sequence, in the order the runner reported the hits."""
    hits = (results or {}).get("hits") or []
    documents = otu_documents_at_versions((hit["otu"]["id"], hit["otu"]["version"]) for hit in hits)
    sequences = {key: _sequence_index(document) for key, document in documents.items()}
    for hit in hits:
        key = (hit["otu"]["id"], hit["otu"]["version"])
        document = documents[key]
        isolate, sequence = sequences[key].get(hit["id"], (None, None))
        align = hit.get("align")
        if sequence is not None:
            length = len(sequence.get("sequence") or "")
        else:
            length = len(align) if align else None
        final = hit.get("final") or {}
        yield PathoscopeRow(
            otu_id=key[0],
            otu_version=key[1],
            otu_name=document["name"] if document else key[0],
            otu_abbreviation=(document or {}).get("abbreviation") or "",
            isolate_id=isolate["id"] if isolate else None,
            isolate_name=isolate_name(isolate["source_type"], isolate["source_name"]) if isolate else UNKNOWN_ISOLATE,
            sequence_id=hit["id"],
            accession=sequence["accession"] if sequence else hit["id"],
            definition=sequence.get("definition", "") if sequence else "",
            length=length,
            weight=final.get("pi", 0),
            reads=final.get("reads", 0),
            median_depth=median_depth(hit),
            coverage=hit.get("coverage", 0),
        )


def pathoscope_hits_formatted(results: dict) -> dict:
    """The stored results with each hit's OTU name, isolate, accession and length added."""
    rows = pathoscope_rows(results)
    hits = []
    for hit, row in zip(results.get("hits") or [], rows):
        hits.append(
            {
                **hit,
                "otu": {**hit["otu"], "name": row.otu_name, "abbreviation": row.otu_abbreviation},
                "isolate": {"id": row.isolate_id, "name": row.isolate_name},
                "accession": row.accession,
                "definition": row.definition,
                "length": row.length,
                "median_depth": row.median_depth,
            }
        )
    return {**results, "hits": hits}


def otu_summaries(rows: Iterable[PathoscopeRow]) -> list[list]:
    """One summary per OTU (and version): isolates and sequences hit, summed weight and reads."""
    summaries: dict[tuple[str, int], dict] = {}
    for row in rows:
        summary = summaries.setdefault(
            (row.otu_id, row.otu_version),
            {"row": row, "isolates": set(), "sequences": 0, "weight": 0, "reads": 0, "coverage": 0},
        )
        summary["isolates"].add(row.isolate_id or row.isolate_name)
        summary["sequences"] += 1
        summary["weight"] += row.weight
        summary["reads"] += row.reads
        summary["coverage"] = max(summary["coverage"], row.coverage)
    return [
        [
            s["row"].otu_name,
            s["row"].otu_abbreviation,
            s["row"].otu_version,
            len(s["isolates"]),
            s["sequences"],
            s["weight"],
            s["reads"],
            s["coverage"],
        ]
        for s in summaries.values()
    ]


class _Echo:
    """A file-like object whose write returns what it was given, for streaming csv.writer."""

    def write(self, value):
        return value


def csv_lines(rows: Iterable[PathoscopeRow]) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield writer.writerow(SEQUENCE_HEADERS)
    for row in rows:
        yield writer.writerow(row.sequence_cells())


def _sheet_title(title: str) -> str:
    """Excel sheet names: at most 31 characters, none of []:*?/\\."""
    for character in "[]:*?/\\":
        title = title.replace(character, " ")
    return title[:31]


def xlsx_write(rows: Iterable[PathoscopeRow], path, *, sample_name: str = "") -> None:
    """Write a workbook with a sequence sheet and an OTU summary sheet, streaming rows to disk
    (openpyxl write-only mode keeps memory flat whatever the number of hits)."""
    workbook = Workbook(write_only=True)
    bold = Font(bold=True)

    def header(sheet, names):
        cells = []
        for name in names:
            cell = WriteOnlyCell(sheet, value=name)
            cell.font = bold
            cells.append(cell)
        sheet.append(cells)

    sequences = workbook.create_sheet(_sheet_title("Sequences"))
    sequences.freeze_panes = "A2"
    header(sequences, SEQUENCE_HEADERS)
    kept = []
    for row in rows:
        sequences.append(row.sequence_cells())
        kept.append(row)

    otus = workbook.create_sheet(_sheet_title("OTUs"))
    otus.freeze_panes = "A2"
    header(otus, OTU_HEADERS)
    for summary in otu_summaries(kept):
        otus.append(summary)

    workbook.properties.title = f"Pathoscope {sample_name}".strip()
    workbook.save(path)
