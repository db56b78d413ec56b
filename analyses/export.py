"""Pathoscope results joined with the OTUs they name, as rows, CSV and Excel.

A hit names an OTU at a version (the version in the index the analysis used). Names, isolates
and accessions are taken from the OTU as it was at that version: the current document when the
OTU has not changed since, otherwise the current document patched back through history
(`history.selectors.otu_document_at_version`). After the reference has been deleted the OTU
and its history are gone; the rows then carry the ids the analysis stored.

Exports are opened in spreadsheets, and names, isolates and accessions are other people's text
(curators, workflow runners): a value starting with =, +, -, @, tab or CR is never run as a
formula. In the CSV it is written with a leading apostrophe (OWASP's advice for CSV); in the
workbook it is a text cell, its value unchanged. Characters XML 1.0 cannot hold (control
characters) are dropped from the workbook's text so an odd name cannot fail the export.
"""

import csv
import statistics
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from django.db import connection
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font

from history.selectors import otu_documents_at_version
from refs.documents import otu_documents_read
from refs.models import isolate_name

SEQUENCE_HEADERS = ("OTU", "Isolate", "Sequence", "Length", "Weight", "Median Depth", "Coverage")
OTU_HEADERS = ("OTU", "Abbreviation", "Version", "Isolates", "Sequences", "Weight", "Reads", "Best Coverage")
UNKNOWN_ISOLATE = "Unknown Isolate"
#: What makes a spreadsheet read a cell as a formula (CSV injection).
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value):
    """A CSV value a spreadsheet shows as text: a leading apostrophe before a formula start."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return f"'{value}"
    return value


def xlsx_cell(sheet, value):
    """A workbook cell: strings are text cells (never formulas), without XML-illegal characters."""
    if not isinstance(value, str):
        return value
    cell = WriteOnlyCell(sheet, value=ILLEGAL_CHARACTERS_RE.sub("", value))
    cell.data_type = "s"
    return cell


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
    """Joined OTU documents as they were at the given versions, in a fixed three queries: the
    current documents (two), and the changes of the OTUs changed since the wanted version."""
    pairs = set(pairs)
    current = otu_documents_read({otu_id for otu_id, _ in pairs})
    documents = {}
    stale = {}
    for otu_id, version in pairs:
        document = current.get(otu_id)
        if document is None or document["version"] != version:
            stale[(otu_id, version)] = document
        else:
            documents[(otu_id, version)] = document
    return {**documents, **otu_documents_at_version(stale)}


#: What a hit shows of its OTU at the hit's version: (name, abbreviation, {sequence id:
#: (isolate id, isolate name, accession, definition, length)}), None when the OTU is unknown.
HitOtu = tuple[str, str, dict[str, tuple]] | None


def _hit_otu_of_document(document: dict | None) -> HitOtu:
    if not document:
        return None
    sequences = {}
    for isolate in document.get("isolates") or []:
        name = isolate_name(isolate["source_type"], isolate["source_name"])
        for sequence in isolate.get("sequences") or []:
            sequences[sequence["_id"]] = (
                isolate["id"], name, sequence["accession"], sequence.get("definition", ""),
                len(sequence.get("sequence") or ""),
            )
    return document["name"], document.get("abbreviation") or "", sequences


_HIT_OTUS_SQL = """
SELECT o.id, o.version, o.name, o.abbreviation, h.id, h.isolate_id, h.source_type, h.source_name, h.accession,
       h.definition, h.length
FROM refs_otu o
LEFT JOIN (
    SELECT i.otu_id, s.id, i.isolate_id, i.source_type, i.source_name, s.accession, s.definition,
           LENGTH(s.sequence) AS length
    FROM refs_sequence s INNER JOIN refs_isolate i ON i.id = s.isolate_id
    WHERE s.id IN ({sequences})
) h ON h.otu_id = o.id
WHERE o.id IN ({otus})
"""


def hit_otus(pairs: Iterable[tuple[str, int]], sequence_ids: Iterable[str]) -> dict[tuple[str, int], HitOtu]:
    """{(OTU id, version): what its hits show of it} (`HitOtu`), with `sequence_ids` the
    sequences the hits name.

    One query reads the OTUs and only the hit sequences' isolates, accessions and lengths
    (never the sequences themselves); OTUs changed since the wanted version (or gone) are
    rebuilt from history as `otu_documents_at_versions` does.
    """
    pairs = set(pairs)
    if not pairs:
        return {}
    otu_ids = sorted({otu_id for otu_id, _ in pairs})
    sequence_ids = sorted(set(sequence_ids)) or [""]
    current: dict[str, tuple] = {}
    with connection.cursor() as cursor:
        cursor.execute(
            _HIT_OTUS_SQL.format(sequences=", ".join(["%s"] * len(sequence_ids)), otus=", ".join(["%s"] * len(otu_ids))),
            [*sequence_ids, *otu_ids],
        )
        for otu_id, version, name, abbreviation, sequence_id, isolate_id, source_type, source_name, *sequence in cursor.fetchall():
            found = current.setdefault(otu_id, (version, name, abbreviation or "", {}))
            if sequence_id is not None:
                accession, definition, length = sequence
                found[3][sequence_id] = (isolate_id, isolate_name(source_type, source_name), accession, definition, length or 0)
    stale = {pair for pair in pairs if pair[0] not in current or current[pair[0]][0] != pair[1]}
    documents = otu_documents_at_versions(stale) if stale else {}
    return {
        pair: _hit_otu_of_document(documents[pair]) if pair in stale else current[pair[0]][1:]
        for pair in pairs
    }


def pathoscope_rows(results: dict) -> Iterator[PathoscopeRow]:
    """One row per hit sequence, in the order the runner reported the hits."""
    hits = (results or {}).get("hits") or []
    otus = hit_otus(((hit["otu"]["id"], hit["otu"]["version"]) for hit in hits), (hit["id"] for hit in hits))
    for hit in hits:
        key = (hit["otu"]["id"], hit["otu"]["version"])
        otu = otus[key]
        found = otu[2].get(hit["id"]) if otu else None
        align = hit.get("align")
        if found is not None:
            isolate_id, name, accession, definition, length = found
        else:
            isolate_id, name, accession, definition = None, UNKNOWN_ISOLATE, hit["id"], ""
            length = len(align) if align else None
        final = hit.get("final") or {}
        yield PathoscopeRow(
            otu_id=key[0],
            otu_version=key[1],
            otu_name=otu[0] if otu else key[0],
            otu_abbreviation=otu[1] if otu else "",
            isolate_id=isolate_id,
            isolate_name=name,
            sequence_id=hit["id"],
            accession=accession,
            definition=definition,
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
        yield writer.writerow([csv_cell(value) for value in row.sequence_cells()])


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
        sequences.append([xlsx_cell(sequences, value) for value in row.sequence_cells()])
        kept.append(row)

    otus = workbook.create_sheet(_sheet_title("OTUs"))
    otus.freeze_panes = "A2"
    header(otus, OTU_HEADERS)
    for summary in otu_summaries(kept):
        otus.append([xlsx_cell(otus, value) for value in summary])

    workbook.properties.title = ILLEGAL_CHARACTERS_RE.sub("", f"Pathoscope {sample_name}").strip()
    workbook.save(path)
