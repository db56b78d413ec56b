"""PostgreSQL helpers shared by the benchmarks: which server, and admin statements on it.

The benchmarks create and drop databases of their own on the server of DATABASE_URL (or
postgres://postgres@127.0.0.1:5432 when DATABASE_URL is not PostgreSQL).
"""

import os
from urllib.parse import urlsplit, urlunsplit


def server_url() -> str:
    url = os.environ.get("DATABASE_URL", "")
    return url if url.startswith("postgres") else "postgres://postgres@127.0.0.1:5432/postgres"


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, parts.fragment))


def admin_execute(statement: str) -> None:
    """Run one statement (CREATE/DROP DATABASE) on the server's `postgres` database."""
    import psycopg2

    parts = urlsplit(server_url())
    connection = psycopg2.connect(
        host=parts.hostname or "127.0.0.1", port=parts.port or 5432, user=parts.username or "postgres",
        password=parts.password or None, dbname="postgres",
    )
    connection.autocommit = True
    with connection.cursor() as cursor:
        cursor.execute(statement)
    connection.close()


def vacuum_analyze() -> None:
    """The steady state of a database some time after an import: autovacuum has analysed and
    vacuumed the new rows (counts read the index alone). On Django's connection."""
    from django.db import connection

    connection.ensure_connection()
    previous = connection.connection.autocommit
    connection.connection.autocommit = True
    with connection.connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    connection.connection.autocommit = previous
    connection.close()
