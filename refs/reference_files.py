"""Writing Virtool reference files (`reference.json.gz`), streamed OTU by OTU.

Format: gzip of JSON `{data_type, organism, name, created_at, otus}`; OTU `{_id, name,
abbreviation, schema, taxid, isolates}`; isolate `{id, source_type, source_name, default,
sequences}`; sequence `{_id, accession, definition, host, segment, sequence}`.
Reading and validating them is in `refs.imports`.
"""

import gzip
import json
from collections.abc import Iterable
from datetime import datetime
from typing import BinaryIO


def otu_file_document(document: dict) -> dict:
    """The reference-file form of a joined OTU document."""
    return {
        "_id": document["_id"],
        "name": document["name"],
        "abbreviation": document.get("abbreviation", ""),
        "schema": document.get("schema") or [],
        "taxid": document.get("taxid"),
        "isolates": [
            {
                "id": isolate["id"],
                "source_type": isolate["source_type"],
                "source_name": isolate["source_name"],
                "default": isolate["default"],
                "sequences": [
                    {
                        "_id": sequence["_id"],
                        "accession": sequence["accession"],
                        "definition": sequence["definition"],
                        "host": sequence["host"],
                        "segment": sequence.get("segment"),
                        "sequence": sequence["sequence"],
                    }
                    for sequence in isolate["sequences"]
                ],
            }
            for isolate in document["isolates"]
        ],
    }


def reference_file_chunks(
    *, name: str, organism: str, data_type: str, created_at: datetime, otu_documents: Iterable[dict]
) -> Iterable[bytes]:
    """The uncompressed JSON of a reference file, as byte chunks (one per OTU)."""
    header = {
        "data_type": data_type,
        "organism": organism,
        "name": name,
        "created_at": created_at.isoformat().replace("+00:00", "Z"),
    }
    yield json.dumps(header)[:-1].encode() + b', "otus": ['
    for position, document in enumerate(otu_documents):
        prefix = b"," if position else b""
        yield prefix + json.dumps(otu_file_document(document), separators=(",", ":")).encode()
    yield b"]}"


def reference_file_write(fileobj: BinaryIO, **kwargs) -> int:
    """Write a gzipped reference file to `fileobj`; returns the uncompressed size."""
    size = 0
    with gzip.GzipFile(fileobj=fileobj, mode="wb", compresslevel=6, mtime=0) as gz:
        for chunk in reference_file_chunks(**kwargs):
            gz.write(chunk)
            size += len(chunk)
    return size


class _Sink:
    """A write target that hands out what was written since the last call."""

    def __init__(self):
        self.parts: list[bytes] = []

    def write(self, data):
        self.parts.append(bytes(data))
        return len(data)

    def flush(self):
        pass

    def take(self) -> bytes:
        data = b"".join(self.parts)
        self.parts.clear()
        return data


def reference_file_stream(**kwargs) -> Iterable[bytes]:
    """Gzipped reference file bytes for a StreamingHttpResponse, without buffering the file."""
    sink = _Sink()
    gz = gzip.GzipFile(fileobj=sink, mode="wb", compresslevel=6, mtime=0)
    for chunk in reference_file_chunks(**kwargs):
        gz.write(chunk)
        data = sink.take()
        if data:
            yield data
    gz.close()
    yield sink.take()
