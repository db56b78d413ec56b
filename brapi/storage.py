"""Chunked storage of bases: streaming writes and ranged reads.

A reference's bases are cut into chunks of `Reference.chunk_size` bases (the last one shorter).
Writes stream chunk rows into the database, with COPY on PostgreSQL (bulk_create elsewhere),
so memory stays bounded by a chunk plus one read block whatever the sequence length. A read
of `[start, stop)` touches only the chunks that range covers and takes only the slice of each
it needs (`substr` on uncompressed storage fetches just those bytes).
"""

from __future__ import annotations

import hashlib
import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from django.db import connection
from brapi.models import ReferenceChunk
from brapi.refget.digests import ga4gh_identifier, ga4gh_identifier_of
from virtool_site.ids import random_id

ChunkRow = tuple[str, int, bytes]

WHITESPACE = b" \t\r\n\v\f"
#: Upper-cases while `bytes.translate` deletes whitespace: one pass over the bases.
UPPER = bytes.maketrans(b"abcdefghijklmnopqrstuvwxyz", b"ABCDEFGHIJKLMNOPQRSTUVWXYZ")
#: IUPAC codes and the gap/stop symbols some assemblies carry; anything else is refused.
ALLOWED_BASES = bytes(range(ord("A"), ord("Z") + 1)) + b"*-."
FASTA_READ_SIZE = 1024 * 1024
#: Rows smaller than this are batched into one read() of the COPY stream.
COPY_BATCH_BYTES = 64 * 1024
#: How many COPY pieces (or rows) a background producer may run ahead.
PREFETCH_DEPTH = 32


class InvalidFasta(ValueError):
    pass


def bases_clean(text: str | bytes) -> bytes:
    """Upper-cased bases without whitespace: what md5checksum is computed on."""
    data = text.encode("utf-8") if isinstance(text, str) else text
    return data.translate(UPPER, WHITESPACE)


def md5_hex(bases: bytes) -> str:
    return hashlib.md5(bases).hexdigest()


def ga4gh_digest(bases: bytes) -> str:
    """The refget GA4GH identifier of cleaned bases (what md5checksum is computed on)."""
    return ga4gh_identifier(bases)


def sequence_chunk_rows(reference_id: str, bases: bytes, chunk_size: int) -> Iterator[ChunkRow]:
    for index, begin in enumerate(range(0, len(bases), chunk_size)):
        yield reference_id, index, bases[begin : begin + chunk_size]


# Writing -----------------------------------------------------------------------------------


class _CopyLines:
    """Chunk rows as COPY text-format data, batched into pieces of about COPY_BATCH_BYTES."""

    def __init__(self, rows: Iterable[ChunkRow]):
        self._rows = rows
        self.rows = 0

    def __iter__(self) -> Iterator[bytes]:
        parts = []
        total = 0
        for reference_id, index, bases in self._rows:
            # FASTA rows come as memoryviews of validated bases; other rows may need escaping.
            if not isinstance(bases, memoryview) and b"\\" in bases:
                bases = bases.replace(b"\\", b"\\\\")
            parts.append(b"%s\t%d\t%s\n" % (reference_id.encode(), index, bases))
            self.rows += 1
            total += len(bases)
            # Small chunks are batched so a COPY is not one Python call per row.
            if total >= COPY_BATCH_BYTES:
                yield b"".join(parts)
                parts = []
                total = 0
        if parts:
            yield b"".join(parts)


class _CopyStream:
    """A file-like view of COPY data, filled as psycopg2 reads it."""

    def __init__(self, pieces: Iterable[bytes]):
        self._pieces = iter(pieces)
        #: psycopg2 turns an exception in read() into QueryCanceled; the original is kept here.
        self.error: BaseException | None = None

    def read(self, size: int = -1) -> bytes:
        try:
            return next(self._pieces, b"")
        except BaseException as error:
            self.error = error
            raise

    readline = read


def _use_copy() -> bool:
    return connection.vendor == "postgresql"


def chunks_write(rows: Iterable[ChunkRow], *, batch_size: int = 64, prefetch: bool = False) -> int:
    """Store chunk rows as they come; returns how many. Call inside a transaction.

    With `prefetch`, rows are produced (and formatted for COPY) in a background thread while
    the database connection sends: for a FASTA stream, parsing and hashing overlap the COPY.
    """
    if _use_copy():
        quote = connection.ops.quote_name
        table = quote(ReferenceChunk._meta.db_table)
        columns = ", ".join(quote(ReferenceChunk._meta.get_field(name).column) for name in ("reference", "index", "bases"))
        lines = _CopyLines(rows)
        source = rows_prefetched(lines) if prefetch else iter(lines)
        stream = _CopyStream(source)
        with connection.cursor() as cursor:
            try:
                cursor.copy_expert(f"COPY {table} ({columns}) FROM STDIN", stream, COPY_BATCH_BYTES)
            except Exception:
                if stream.error is not None:
                    raise stream.error from None
                raise
            finally:
                source.close()  # stops a background producer at once, whatever happened
        return lines.rows
    count = 0
    batch: list[ReferenceChunk] = []
    batch_bytes = 0
    source = rows_prefetched(rows) if prefetch else iter(rows)
    try:
        for reference_id, index, bases in source:
            batch.append(ReferenceChunk(reference_id=reference_id, index=index, bases=bytes(bases).decode("utf-8")))
            batch_bytes += len(bases)
            if len(batch) >= batch_size or batch_bytes >= 4 * COPY_BATCH_BYTES:
                ReferenceChunk.objects.bulk_create(batch)
                count += len(batch)
                batch = []
                batch_bytes = 0
    finally:
        if hasattr(source, "close"):
            source.close()
    if batch:
        ReferenceChunk.objects.bulk_create(batch)
        count += len(batch)
    return count


def rows_prefetched(rows: Iterable, *, depth: int | None = None) -> Iterator:
    """Produce `rows` in a background thread, at most `depth` ahead of the consumer.

    Parsing and hashing a FASTA then overlap with sending the COPY data (psycopg2 releases the
    GIL while it sends, hashlib while it hashes large buffers), so an import runs close to COPY
    speed. Exceptions of the producer are raised in the consumer. Memory stays bounded: at
    most `depth` items wait, each a COPY piece or a row pinning one read block.
    """
    done = object()
    items: queue.Queue = queue.Queue(maxsize=depth or PREFETCH_DEPTH)
    stop = threading.Event()

    def put(item) -> bool:
        while not stop.is_set():
            try:
                items.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce():
        try:
            for row in rows:
                if not put(row):
                    return
            put(done)
        except BaseException as error:  # handed to the consumer
            put(_Failure(error))

    thread = threading.Thread(target=produce, name="brapi-rows", daemon=True)
    thread.start()
    try:
        while True:
            item = items.get()
            if item is done:
                break
            if isinstance(item, _Failure):
                raise item.error
            yield item
    finally:
        stop.set()
        thread.join()


class _Failure:
    def __init__(self, error: BaseException):
        self.error = error


# Reading -----------------------------------------------------------------------------------


_PIECES_SQL = """SELECT SUBSTR(c.bases, CASE WHEN c."index" = %s THEN %s ELSE 1 END,
    CASE WHEN c."index" = %s THEN %s WHEN c."index" = %s THEN %s ELSE %s END)
FROM brapi_referencechunk c WHERE c.reference_id = %s AND c."index" BETWEEN %s AND %s ORDER BY c."index"
"""


def bases_read(*, reference_id: str, chunk_size: int, start: int, stop: int) -> str:
    """Bases `[start, stop)`, reading only the chunks (and the slices of them) it covers: the
    first from `start`, the last up to `stop`, whole ones between (one query, written once:
    it runs on every page of bases)."""
    if start >= stop:
        return ""
    first, last = start // chunk_size, (stop - 1) // chunk_size
    low = start - first * chunk_size
    first_length = (stop - start) if first == last else chunk_size - low
    last_length = stop - last * chunk_size
    with connection.cursor() as cursor:
        cursor.execute(
            _PIECES_SQL,
            [first, low + 1, first, first_length, last, last_length, chunk_size, reference_id, first, last],
        )
        return "".join(piece for (piece,) in cursor.fetchall())


# FASTA -------------------------------------------------------------------------------------


@dataclass
class FastaRecord:
    id: str
    name: str
    description: str
    position: int
    length: int = 0
    _md5: object = field(default_factory=hashlib.md5, repr=False)
    _sha512: object = field(default_factory=hashlib.sha512, repr=False)

    @property
    def md5checksum(self) -> str:
        return self._md5.hexdigest()

    @property
    def ga4gh_digest(self) -> str:
        return ga4gh_identifier_of(self._sha512)


def fasta_chunk_rows(
    handle,
    *,
    chunk_size: int,
    records: list[FastaRecord],
    read_size: int = FASTA_READ_SIZE,
    progress: Callable[[int], None] | None = None,
    max_header_bytes: int = 1024 * 1024,
) -> Iterator[ChunkRow]:
    """Chunk rows of every record of a binary FASTA stream, one pass, bounded memory.

    Each record's metadata (name, length, md5 and sha512 of the upper-cased bases, hashed as
    they stream past) is appended to
    `records` as the stream is read; a record is complete once the next one starts or the
    generator is exhausted. `progress(n)` is called with the number of bytes read.
    Raises InvalidFasta for data before the first header or bases outside the IUPAC codes.
    """
    record: FastaRecord | None = None
    header = bytearray()
    in_header = False
    at_line_start = True
    pending = bytearray()  # bases of the current record not yet making a whole chunk
    chunk_index = 0

    def emit_bases(data: bytes):
        nonlocal pending, chunk_index
        data = data.translate(UPPER, WHITESPACE)
        if not data:
            return
        # isalpha() is a quick pass for the usual all-letters case; gaps and stops are rarer.
        if not data.isalpha() and data.translate(None, ALLOWED_BASES):
            bad = sorted(set(data.translate(None, ALLOWED_BASES).decode("latin-1")))
            raise InvalidFasta(f"Invalid characters in sequence {record.name}: {''.join(bad[:10])!r}")
        record._md5.update(data)
        record._sha512.update(data)
        record.length += len(data)
        view = memoryview(data)
        position = 0
        if pending:
            need = chunk_size - len(pending)
            if len(view) < need:
                pending += view
                return
            pending += view[:need]
            yield_rows.append((record.id, chunk_index, memoryview(bytes(pending))))
            chunk_index += 1
            position = need
        # Whole chunks are slices of the block: no copy until the COPY row is formatted.
        while len(view) - position >= chunk_size:
            yield_rows.append((record.id, chunk_index, view[position : position + chunk_size]))
            chunk_index += 1
            position += chunk_size
        pending = bytearray(view[position:])

    def finish_record():
        nonlocal pending, chunk_index
        if record is not None and pending:
            yield_rows.append((record.id, chunk_index, memoryview(bytes(pending))))
        pending = bytearray()
        chunk_index = 0

    def start_record(line: bytes):
        nonlocal record
        text = line.decode("utf-8", errors="replace").strip()
        name, _, description = text.partition(" ")
        if not name:
            raise InvalidFasta(f"Empty FASTA header (record {len(records) + 1})")
        if "\x00" in text:
            raise InvalidFasta(f"NUL character in FASTA header (record {len(records) + 1})")
        # A set's references are looked up by name: two of one name would be ambiguous.
        if name[:255] in names:
            raise InvalidFasta(f"Duplicate sequence name: {name[:255]}")
        names.add(name[:255])
        record = FastaRecord(id=random_id(), name=name[:255], description=description.strip(), position=len(records))
        records.append(record)

    names: set[str] = set()
    yield_rows: list[ChunkRow] = []
    while True:
        block = handle.read(read_size)
        if not block:
            break
        if progress is not None:
            progress(len(block))
        position = 0
        size = len(block)
        while position < size:
            if in_header:
                newline = block.find(b"\n", position)
                if newline == -1:
                    header += block[position:]
                    if len(header) > max_header_bytes:
                        raise InvalidFasta("FASTA header line too long")
                    position = size
                    at_line_start = False
                    break
                header += block[position:newline]
                if len(header) > max_header_bytes:
                    raise InvalidFasta("FASTA header line too long")
                start_record(bytes(header))
                in_header = False
                position = newline + 1
                at_line_start = True
                continue
            marker = block.find(b">", position)
            end = size if marker == -1 else marker
            if end > position:
                segment = block[position:end]
                if record is None:
                    if segment.translate(None, WHITESPACE):
                        raise InvalidFasta("Not a FASTA file: data before the first '>' header")
                else:
                    emit_bases(segment)
                at_line_start = block[end - 1] == 0x0A
            if marker == -1:
                position = size
            else:
                if not at_line_start:
                    raise InvalidFasta("Malformed FASTA: '>' inside a sequence line")
                finish_record()
                in_header = True
                header = bytearray()
                position = marker + 1
            if yield_rows:
                yield from yield_rows
                yield_rows.clear()
        if yield_rows:
            yield from yield_rows
            yield_rows.clear()
    if in_header and header:
        start_record(bytes(header))
    finish_record()
    yield from yield_rows
    yield_rows.clear()
