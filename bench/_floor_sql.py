"""What the raw-SQL floors (bench/floors.py, bench/floors_brapi.py) share: URL parts, pages,
times spelled as the API spells them, JSON fragments, Virtool's page envelope."""

from urllib.parse import parse_qs, unquote, urlsplit

import orjson

def _parts(url: str) -> tuple[list[str], dict]:
    split = urlsplit(url)
    return [unquote(part) for part in split.path.strip("/").split("/")], {key: values[-1] for key, values in parse_qs(split.query).items()}


def _page(query: dict, default: int = 15) -> tuple[int, int]:
    per_page = int(query.get("per_page", default))
    return per_page, (int(query.get("page", 1)) - 1) * per_page


def _time(column: str) -> str:
    """A timestamp spelled as the API spells it (UTC, microseconds, `Z`), by PostgreSQL."""
    return f"""to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')"""


def _json(value):
    return None if value is None else orjson.Fragment(value)


def _fetch(cursor, sql: str, params=()) -> list[tuple]:
    cursor.execute(sql, params)
    return cursor.fetchall()


def _ref(value) -> dict | None:
    return None if value is None else {"id": value}


def _envelope(documents: list, found: int, per_page: int, offset: int, total: int | None = None, **extra) -> bytes:
    return orjson.dumps(
        {"documents": documents, "total_count": found if total is None else total, "found_count": found,
         "page_count": -(-found // per_page), "per_page": per_page, "page": offset // per_page + 1, **extra}
    )


def _paged(cursor, sql: str, params: list, url: str, document, total_sql: str | None = None) -> bytes:
    """A page of `sql` (which ends with a column counting the rows it matches, a scalar subquery
    PostgreSQL counts once; with `total_sql`, then one counting them without filters) in
    Virtool's envelope."""
    _, query = _parts(url)
    per_page, offset = _page(query)
    found = _fetch(cursor, sql + " LIMIT %s OFFSET %s", [*params, per_page, offset])
    if not found:
        return _envelope([], 0, per_page, offset)
    width = 2 if total_sql else 1
    total = found[0][-1] if total_sql else None
    return _envelope([document(values[:-width]) for values in found], found[0][-width], per_page, offset, total)


