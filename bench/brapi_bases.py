"""BrAPI bases: page cost against chromosome length, and FASTA import rate against plain COPY.

    .venv/bin/python bench/brapi_bases.py            # PostgreSQL at 127.0.0.1:5432, user postgres

Creates its own database (vs_bench_brapi, dropped at the end), imports a synthetic 100-Mbase
chromosome and a 100-kbase one with `brapi_import_fasta`'s service, then prints:

- the median time and Python memory (tracemalloc peak) of a 10,000-base page from the middle
  of each chromosome, through the whole Django stack (URL, auth, view, queries, JSON);
  target: the 100-Mbase page costs at most 1.5 times the 100-kbase page;
- the import rate of the 100-Mbase FASTA next to a plain PostgreSQL COPY of the same bases
  (already chunked, in memory) into a table of the same shape and storage, in the same run;
  target: the import runs at 0.7 times the plain COPY rate or better.

Environment: BENCH_PG_URL (server to use, default postgres://postgres@127.0.0.1:5432),
BENCH_MBASES (default 100), BENCH_ROUNDS (import/COPY rounds, default 3), BENCH_REQUESTS
(page requests per chromosome, default 60).
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
import tracemalloc
import warnings
from pathlib import Path
from urllib.parse import urlsplit

from _fasta import fasta_write, random_bases  # bench/ is on sys.path when a script runs

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

BENCH_DB = "vs_bench_brapi"
SERVER_URL = os.environ.get("BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432").rstrip("/")
BIG_BASES = int(float(os.environ.get("BENCH_MBASES", "100")) * 1_000_000)
SMALL_BASES = 100_000
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
REQUESTS = int(os.environ.get("BENCH_REQUESTS", "60"))
PAGE_BASES = 10_000


def _server_connect(dbname: str):
    import psycopg2

    parts = urlsplit(SERVER_URL)
    connection = psycopg2.connect(
        host=parts.hostname or "127.0.0.1",
        port=parts.port or 5432,
        user=parts.username or "postgres",
        password=parts.password or None,
        dbname=dbname,
    )
    connection.autocommit = True
    return connection


def database_recreate(drop_only: bool = False) -> None:
    connection = _server_connect("postgres")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            [BENCH_DB],
        )
        cursor.execute(f'DROP DATABASE IF EXISTS "{BENCH_DB}"')
        if not drop_only:
            cursor.execute(f'CREATE DATABASE "{BENCH_DB}"')
    connection.close()


def setup_django(data_dir: str) -> None:
    parts = urlsplit(SERVER_URL)
    os.environ["DATABASE_URL"] = f"{parts.scheme}://{parts.netloc}/{BENCH_DB}"
    os.environ["DATA_DIR"] = data_dir
    os.environ.pop("REDIS_URL", None)  # the bench queues no tasks and needs no Redis
    os.environ["DJANGO_SETTINGS_MODULE"] = "virtool_site.settings"
    warnings.filterwarnings("ignore", message="No directory at")  # whitenoise: no collectstatic here
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", "brapi", verbosity=0)


def plain_copy_seconds(bases: bytes, chunk_size: int) -> float:
    """COPY the same bases, already cut into chunk rows, into a table shaped like the chunks'."""
    from django.db import connection, transaction

    class Rows:
        def __init__(self):
            self.index = 0

        def read(self, size=-1):
            begin = self.index * chunk_size
            if begin >= len(bases):
                return b""
            row = b"plaincopy\t%d\t%s\n" % (self.index, bases[begin : begin + chunk_size])
            self.index += 1
            return row

    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS bench_plain_copy")
        cursor.execute("CREATE TABLE bench_plain_copy (LIKE brapi_referencechunk INCLUDING ALL)")
    started = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.copy_expert('COPY bench_plain_copy (reference_id, "index", bases) FROM STDIN', Rows(), 1 << 20)
    elapsed = time.perf_counter() - started
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE bench_plain_copy")
    return elapsed


def checkpoint() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("CHECKPOINT")


def import_seconds(path: Path, name: str):
    from brapi import services

    started = time.perf_counter()
    with path.open("rb") as handle:
        reference_set = services.referenceset_import_fasta(stream=handle, name=name, species="Benchmarkia synthetica")
    return time.perf_counter() - started, reference_set


def page_costs(client, reference, requests: int) -> tuple[float, int, str]:
    start = reference.length // 2
    url = f"/brapi/v2/references/{reference.id}/bases?start={start}&end={start + PAGE_BASES}"
    for _ in range(5):  # warm up connections and caches
        response = client.get(url)
    assert response.status_code == 200, response.content[:200]
    sequence = response.json()["result"]["sequence"]
    times = []
    for _ in range(requests):
        began = time.perf_counter()
        response = client.get(url)
        times.append(time.perf_counter() - began)
        assert response.status_code == 200
    peaks = []
    for _ in range(max(5, requests // 4)):
        tracemalloc.start()
        client.get(url)
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
    return statistics.median(times), int(statistics.median(peaks)), sequence


def main() -> int:
    print(f"BrAPI bases benchmark: {BIG_BASES / 1e6:g}-Mbase and {SMALL_BASES / 1e3:g}-kbase chromosomes")
    database_recreate()
    try:
        with tempfile.TemporaryDirectory(prefix="brapi-bench-") as tmp:
            tmp_path = Path(tmp)
            setup_django(str(tmp_path / "data"))
            (tmp_path / "data").mkdir()
            from django.conf import settings
            from django.test import Client

            chunk_size = settings.BRAPI_CHUNK_SIZE
            print(f"chunk size {chunk_size} bases, page {PAGE_BASES} bases, {ROUNDS} import rounds")

            big = random_bases(BIG_BASES)
            small = random_bases(SMALL_BASES)
            big_path, small_path = tmp_path / "big.fa", tmp_path / "small.fa"
            fasta_write(big_path, "chrBig", big)
            fasta_write(small_path, "chrSmall", small)
            print(f"FASTA written: {big_path.stat().st_size / 1e6:.1f} MB and {small_path.stat().st_size / 1e3:.1f} kB")

            copy_times, import_times = [], []
            big_set = None
            for round_number in range(ROUNDS):
                # Alternate the order, and start each measurement from a checkpoint, so that
                # neither pays for the other's dirty buffers or WAL.
                order = ("copy", "import") if round_number % 2 == 0 else ("import", "copy")
                for step in order:
                    checkpoint()
                    if step == "copy":
                        copy_times.append(plain_copy_seconds(big, chunk_size))
                    else:
                        seconds, reference_set = import_seconds(big_path, f"Big {round_number}")
                        import_times.append(seconds)
                        big_set = big_set or reference_set
                print(
                    f"  round {round_number + 1}: plain COPY {BIG_BASES / copy_times[-1] / 1e6:6.1f} Mbases/s, "
                    f"import {BIG_BASES / import_times[-1] / 1e6:6.1f} Mbases/s"
                )
            _, small_set = import_seconds(small_path, "Small")

            big_reference = big_set.references.get()
            small_reference = small_set.references.get()
            import hashlib

            assert big_reference.md5checksum == hashlib.md5(big).hexdigest(), "md5 of the 100-Mbase import"
            assert big_reference.length == BIG_BASES

            client = Client()
            big_time, big_memory, big_page = page_costs(client, big_reference, REQUESTS)
            small_time, small_memory, small_page = page_costs(client, small_reference, REQUESTS)
            middle = BIG_BASES // 2
            assert big_page.encode() == big[middle : middle + PAGE_BASES], "page of the 100-Mbase chromosome"
            assert small_page.encode() == small[SMALL_BASES // 2 : SMALL_BASES // 2 + PAGE_BASES]

            copy_rate = BIG_BASES / statistics.median(copy_times)
            import_rate = BIG_BASES / statistics.median(import_times)
            best_ratio = (BIG_BASES / min(import_times)) / (BIG_BASES / min(copy_times))
            time_ratio = big_time / small_time
            print()
            print("10,000-base page from the middle (median of %d requests, whole Django stack)" % REQUESTS)
            print(f"  {BIG_BASES / 1e6:g}-Mbase chromosome: {big_time * 1e3:7.2f} ms  {big_memory / 1024:8.1f} KiB peak")
            print(f"  {SMALL_BASES / 1e3:g}-kbase chromosome: {small_time * 1e3:7.2f} ms  {small_memory / 1024:8.1f} KiB peak")
            print(
                f"  ratio big/small: time {time_ratio:.2f}, memory {big_memory / small_memory:.2f} "
                f"(target <= 1.5: {'PASS' if time_ratio <= 1.5 else 'FAIL'})"
            )
            print()
            print(f"Import of the {BIG_BASES / 1e6:g}-Mbase FASTA (median of {ROUNDS} rounds)")
            print(f"  plain PostgreSQL COPY of the same bases: {copy_rate / 1e6:6.1f} Mbases/s")
            print(f"  brapi_import_fasta (parse, md5, COPY):   {import_rate / 1e6:6.1f} Mbases/s")
            ratio = import_rate / copy_rate
            print(
                f"  ratio import/COPY: {ratio:.2f} (best rounds {best_ratio:.2f}; "
                f"target >= 0.7: {'PASS' if ratio >= 0.7 else 'FAIL'})"
            )
            from django.db import connections

            connections.close_all()
    finally:
        database_recreate(drop_only=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
