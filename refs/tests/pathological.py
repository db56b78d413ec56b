"""Pathological reference files, written streamed into gzip (the test's memory stays flat
whatever the size): one huge OTU name, a huge number of tiny OTUs, deep nesting, a long
sequence. Used by refs/tests/test_import_bounds.py and bench/pathological_import.py."""

import gzip
import json
from pathlib import Path

PIECE = 1024 * 1024


def _valid_otu(otu_id: str, name: str) -> dict:
    return {
        "_id": otu_id,
        "name": name,
        "abbreviation": "",
        "schema": [],
        "taxid": None,
        "isolates": [
            {
                "id": "iso00001",
                "source_type": "isolate",
                "source_name": "A",
                "default": True,
                "sequences": [
                    {"_id": f"{otu_id}s", "accession": "NC_1", "definition": "d", "host": "h", "segment": None,
                     "sequence": "ACGT"}
                ],
            }
        ],
    }


def _repeat(handle, unit: bytes, count: int) -> None:
    """`unit` written `count` times, a piece at a time."""
    per_piece = max(PIECE // len(unit), 1)
    piece = unit * per_piece
    while count >= per_piece:
        handle.write(piece)
        count -= per_piece
    handle.write(unit * count)


def _around(value_marker: str, document: dict) -> tuple[bytes, bytes]:
    """The JSON of `document` split where its string `value_marker` stands (quotes kept
    outside), so that a huge value can be streamed in between."""
    text = json.dumps(document)
    before, _, after = text.partition(json.dumps(value_marker))
    return (before + '"').encode(), ('"' + after).encode()


def huge_name_file(path: Path, *, chars: int, level: int = 6) -> Path:
    """A valid reference file but for its one OTU's name: `chars` characters long."""
    before, after = _around("NAME", {"data_type": "genome", "organism": "virus", "name": "Huge", "otus": [
        {**_valid_otu("hugename", "NAME")}
    ]})
    with gzip.open(path, "wb", compresslevel=level) as handle:
        handle.write(before)
        _repeat(handle, b"a", chars)
        handle.write(after)
    return path


def long_sequence_file(path: Path, *, chars: int, level: int = 6) -> Path:
    """A valid reference file but for its one sequence: `chars` bases long."""
    otu = _valid_otu("longseq1", "Long sequence virus")
    otu["isolates"][0]["sequences"][0]["sequence"] = "SEQUENCE"
    before, after = _around("SEQUENCE", {"data_type": "genome", "organism": "virus", "otus": [otu]})
    with gzip.open(path, "wb", compresslevel=level) as handle:
        handle.write(before)
        _repeat(handle, b"ACGT", chars // 4)
        handle.write(b"A" * (chars % 4))
        handle.write(after)
    return path


def tiny_otus_file(path: Path, *, count: int, level: int = 6) -> Path:
    """`count` tiny OTUs (no isolates, each valid), written in pieces."""
    with gzip.open(path, "wb", compresslevel=level) as handle:
        handle.write(b'{"data_type": "genome", "otus": [')
        batch = []
        for number in range(count):
            batch.append(b'{"_id":"t%d","name":"Tiny virus %d","isolates":[]}' % (number, number))
            if len(batch) == 10_000:
                handle.write((b"," if number >= len(batch) else b"") + b",".join(batch))
                batch = []
        if batch:
            handle.write((b"," if count > len(batch) else b"") + b",".join(batch))
        handle.write(b"]}")
    return path


def deep_file(path: Path, *, depth: int, level: int = 6) -> Path:
    """One OTU whose `isolates` nests `depth` lists deep."""
    with gzip.open(path, "wb", compresslevel=level) as handle:
        handle.write(b'{"otus": [{"_id": "deep0001", "name": "Deep virus", "isolates": ')
        _repeat(handle, b"[", depth)
        _repeat(handle, b"]", depth)
        handle.write(b"}]}")
    return path
