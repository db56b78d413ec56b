"""Writing many rows fast on PostgreSQL: COPY, spooled COPY, and rows copied in the database.

A process that writes thousands of rows in one transaction (a reference import writes OTUs,
isolates, sequences and their history) sends them with COPY instead of INSERTs:

- `copy_rows(cursor, Model, rows)`: COPY rows given as {attname: value} dicts or model
  instances into the model's table; `copy_tuples` does the same for any table.
- `CopySpool(Model)`: rows kept as COPY text in a temporary file, to be copied later in the
  transaction (they need not stay in memory meanwhile).
- `serial_ids(cursor, Model, count)`: primary keys drawn from the table's sequence, so rows
  that refer to each other can be copied in one go.
- `insert_select_lists(Model, alias, overrides)`: column and SELECT lists for
  INSERT ... SELECT, which copies rows without moving them through Python.
- `lz4_toast_compression(cursor)`: store the large values written in the block with lz4.

`copy_available()` says whether these may be used (PostgreSQL); callers keep a portable
path (bulk_create) for the embedded SQLite, and tests switch this off to run that path on
PostgreSQL too. `statements` counts the COPY statements issued (for the benchmarks).
"""

import io
import json
import re
import tempfile
from collections.abc import Callable, Iterable
from contextlib import contextmanager

from django.db import connection

#: COPY statements issued by this process (read by the benchmarks).
statements = 0

_COPY_SPECIAL = re.compile(r"[\\\t\n\r]")
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def copy_available() -> bool:
    """Whether the bulk paths may use COPY and PostgreSQL's SQL (tests switch it off)."""
    return connection.vendor == "postgresql"


def _counted(number: int = 1) -> None:
    global statements
    statements += number


def copy_columns(model) -> list[tuple]:
    """(column, attname, is_json, default) of a model's rows, for COPY."""
    return [
        (f.column, f.attname, f.get_internal_type() == "JSONField", f.get_default() if f.has_default() else None)
        for f in model._meta.concrete_fields
    ]


def copy_value(value, is_json: bool = False) -> str:
    """One value in COPY's text format."""
    if value is None:
        return "\\N"
    if is_json:
        value = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    elif value is True:
        return "t"
    elif value is False:
        return "f"
    elif isinstance(value, int):
        return str(value)
    elif hasattr(value, "isoformat"):
        return value.isoformat()
    elif not isinstance(value, str):
        value = str(value)
    if _COPY_SPECIAL.search(value):
        value = value.translate(_COPY_ESCAPES)
    return value


def copy_lines(columns, rows) -> str:
    """COPY text of rows given as attname dicts or model instances."""
    lines = []
    for row in rows:
        get = row.get if isinstance(row, dict) else (lambda name, default, obj=row: getattr(obj, name, default))
        lines.append(
            "\t".join(copy_value(get(attname, default), is_json) for _, attname, is_json, default in columns)
        )
    return "\n".join(lines) + "\n" if lines else ""


def copy_sql(model) -> str:
    quote = connection.ops.quote_name
    columns = ", ".join(quote(column) for column, *_ in copy_columns(model))
    return f"COPY {quote(model._meta.db_table)} ({columns}) FROM STDIN"


def copy_rows(cursor, model, rows) -> None:
    """COPY rows (attname dicts or model instances) into the model's table."""
    if rows:
        cursor.copy_expert(copy_sql(model), io.StringIO(copy_lines(copy_columns(model), rows)))
        _counted()


def copy_tuples(cursor, table: str, columns: list[str], rows: Iterable[tuple]) -> None:
    """COPY plain tuples into `table` (a quoted or plain name, e.g. a temporary table)."""
    text = "".join("\t".join(copy_value(value) for value in row) + "\n" for row in rows)
    cursor.copy_expert(f"COPY {table} ({', '.join(columns)}) FROM STDIN", io.StringIO(text))
    _counted()


def serial_ids(cursor, model, count: int) -> list[int]:
    """`count` new primary keys from the sequence of the model's serial `id`."""
    cursor.execute(
        "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
        [model._meta.db_table, count],
    )
    return [pk for (pk,) in cursor.fetchall()]


def insert_select_lists(model, alias: str, overrides: dict[str, str]) -> tuple[str, str]:
    """Column list and SELECT list copying `model` rows from `alias`, some columns replaced
    by expressions; columns added to the model later are copied as they are."""
    quote = connection.ops.quote_name
    columns = [f.column for f in model._meta.concrete_fields]
    select = [overrides.get(column, f"{alias}.{quote(column)}") for column in columns]
    return ", ".join(quote(c) for c in columns), ", ".join(select)


@contextmanager
def lz4_toast_compression(cursor):
    """Store the large values written in the block with lz4 when the server has it.

    For data written in bulk and read rarely (history documents): lz4 compresses several
    times faster than the default pglz. The setting is local to the transaction; it is put
    back when the block ends normally (after an error the transaction is lost anyway).
    """
    cursor.execute(
        "SELECT 1 FROM pg_settings WHERE name = 'default_toast_compression' AND 'lz4' = ANY(enumvals)"
    )
    switched = cursor.fetchone() is not None
    if switched:
        cursor.execute("SET LOCAL default_toast_compression = 'lz4'")
    yield switched
    if switched:
        cursor.execute("SET LOCAL default_toast_compression TO DEFAULT")


class _Segment(io.RawIOBase):
    """A window of a spool file, readable by COPY."""

    def __init__(self, handle, start: int, end: int):
        self.handle, self.position, self.end = handle, start, end

    def readable(self):
        return True

    def read(self, size=-1):
        remaining = self.end - self.position
        if remaining <= 0:
            return b""
        size = remaining if size is None or size < 0 else min(size, remaining)
        self.handle.seek(self.position)
        data = self.handle.read(size)
        self.position += len(data)
        return data

    def readline(self, size=-1):
        return self.read(size)


class CopySpool:
    """Rows of one model kept as COPY text in a temporary file until `copy` sends them.

    Each `add` appends a segment; `copy` sends each segment as one COPY statement.
    """

    def __init__(self, model):
        self.model = model
        self.columns = copy_columns(model)
        self.handle = None
        self.segments: list[tuple[int, int]] = []

    def add(self, rows) -> None:
        if not rows:
            return
        if self.handle is None:
            self.handle = tempfile.TemporaryFile()
        start = self.handle.seek(0, io.SEEK_END)
        self.handle.write(copy_lines(self.columns, rows).encode())
        self.segments.append((start, self.handle.tell()))

    def copy(self, cursor, progress: Callable[[float], None] | None = None) -> None:
        sql = copy_sql(self.model)
        for number, (start, end) in enumerate(self.segments):
            cursor.copy_expert(sql, _Segment(self.handle, start, end), size=1024 * 1024)
            _counted()
            if progress:
                progress((number + 1) / len(self.segments))

    def close(self) -> None:
        if self.handle is not None:
            self.handle.close()
            self.handle = None
        self.segments = []
