"""Benchmark: cost of a 10,000-base refget slice against the sequence's length.

    .venv/bin/python bench/refget_slice.py

Creates its own PostgreSQL database (vs_bench_refget, on the server of DATABASE_URL or
postgres://postgres@127.0.0.1:5432), imports a synthetic 100-Mbase chromosome and a
100-kbase one with the FASTA import service (which also computes their GA4GH digests), then
prints, for each chromosome, through the whole Django stack (URL, auth, lookup by digest,
visibility, ranged read):

- the median time and Python memory (tracemalloc peak) of a 10,000-base slice from the
  middle, asked for with start/end (`/refget/sequence/{md5}?start=&end=`) and with a Range
  header on the GA4GH identifier; target: the 100-Mbase slice costs at most 1.5 times the
  100-kbase one;
- the time and Python memory peak of streaming the whole 100-Mbase chromosome (what htslib
  asks for), against its size: memory stays a block, not the chromosome;
- the time to compute the import's digests (md5 and sha512 while storing) is part of the
  import time printed first.

Environment: BENCH_MBASES (default 100), BENCH_REQUESTS (slice requests per chromosome and
kind, default 60). The database is dropped at the end. Figures are printed, never asserted.
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

from _fasta import fasta_write, random_bases  # bench/ is on sys.path when a script runs
from _pg import admin_execute, server_url, with_database

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

BENCH_DB = os.environ.get("BENCH_DATABASE_NAME", "vs_bench_refget")
BIG_BASES = int(float(os.environ.get("BENCH_MBASES", "100")) * 1_000_000)
SMALL_BASES = 100_000
REQUESTS = int(os.environ.get("BENCH_REQUESTS", "60"))
SLICE_BASES = 10_000


def slice_costs(client, path: str, headers: dict, requests: int) -> tuple[float, int, bytes]:
    for _ in range(5):  # warm up connections and caches
        response = client.get(path, **headers)
    assert response.status_code in (200, 206), response.content[:200]
    body = response.content
    times = []
    for _ in range(requests):
        began = time.perf_counter()
        response = client.get(path, **headers)
        times.append(time.perf_counter() - began)
    peaks = []
    for _ in range(max(5, requests // 4)):
        tracemalloc.start()
        client.get(path, **headers)
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
    return statistics.median(times), int(statistics.median(peaks)), body


def main() -> int:
    print(f"refget slice benchmark: {BIG_BASES / 1e6:g}-Mbase and {SMALL_BASES / 1e3:g}-kbase chromosomes")
    admin_execute(f'DROP DATABASE IF EXISTS "{BENCH_DB}"')
    admin_execute(f'CREATE DATABASE "{BENCH_DB}"')
    try:
        with tempfile.TemporaryDirectory(prefix="refget-bench-") as tmp:
            tmp_path = Path(tmp)
            (tmp_path / "data").mkdir()
            os.environ["DATABASE_URL"] = with_database(server_url(), BENCH_DB)
            os.environ["DATA_DIR"] = str(tmp_path / "data")
            os.environ.pop("REDIS_URL", None)  # the bench queues no tasks and needs no Redis
            os.environ["DJANGO_SETTINGS_MODULE"] = "virtool_site.settings"
            os.environ.setdefault("LOG_LEVEL", "WARNING")
            warnings.filterwarnings("ignore", message="No directory at")  # whitenoise: no collectstatic here
            import django

            django.setup()
            from django.core.management import call_command
            from django.db import connections

            call_command("migrate", verbosity=0)
            try:
                run(tmp_path)
            finally:
                connections.close_all()
    finally:
        admin_execute(f'DROP DATABASE IF EXISTS "{BENCH_DB}"')
    return 0


def run(tmp_path: Path) -> None:
    import hashlib

    from django.conf import settings
    from django.test import Client

    from brapi import services
    from brapi.refget import views

    big, small = random_bases(BIG_BASES), random_bases(SMALL_BASES)
    sets = {}
    for name, bases in (("chrBig", big), ("chrSmall", small)):
        path = tmp_path / f"{name}.fa"
        fasta_write(path, name, bases)
        began = time.perf_counter()
        with path.open("rb") as handle:
            sets[name] = services.referenceset_import_fasta(stream=handle, name=name, species="Benchmarkia synthetica")
        seconds = time.perf_counter() - began
        print(f"import of {name} ({len(bases) / 1e6:g} Mbases, md5 + GA4GH digest while storing): {seconds:.2f} s")
    big_reference = sets["chrBig"].references.get()
    small_reference = sets["chrSmall"].references.get()
    assert big_reference.md5checksum == hashlib.md5(big).hexdigest()
    print(f"chunk size {settings.BRAPI_CHUNK_SIZE} bases, slice {SLICE_BASES} bases, {REQUESTS} requests each")

    client = Client()
    rows = []
    for label, reference, bases in (("big", big_reference, big), ("small", small_reference, small)):
        middle = reference.length // 2
        expected = bases[middle : middle + SLICE_BASES]
        query = f"/refget/sequence/{reference.md5checksum}?start={middle}&end={middle + SLICE_BASES}"
        by_query = slice_costs(client, query, {}, REQUESTS)
        ranged = slice_costs(
            client,
            f"/refget/sequence/{reference.ga4gh_digest}",
            {"HTTP_RANGE": f"bytes={middle}-{middle + SLICE_BASES - 1}"},
            REQUESTS,
        )
        assert by_query[2] == expected and ranged[2] == expected, f"slice of the {label} chromosome"
        rows.append((label, reference.length, by_query, ranged))

    print()
    print(f"{SLICE_BASES:,}-base slice from the middle (median of {REQUESTS} requests, whole Django stack)")
    for label, length, by_query, ranged in rows:
        print(
            f"  {length / 1e6:8.1f}-Mbase chromosome: start/end {by_query[0] * 1e3:6.2f} ms {by_query[1] / 1024:7.1f} KiB peak"
            f" | Range {ranged[0] * 1e3:6.2f} ms {ranged[1] / 1024:7.1f} KiB peak"
        )
    (_, _, big_query, big_range), (_, _, small_query, small_range) = rows
    for kind, big_cost, small_cost in (("start/end", big_query, small_query), ("Range", big_range, small_range)):
        ratio = big_cost[0] / small_cost[0]
        print(
            f"  ratio big/small ({kind}): time {ratio:.2f}, memory {big_cost[1] / small_cost[1]:.2f} "
            f"(target <= 1.5: {'PASS' if ratio <= 1.5 else 'FAIL'})"
        )

    print()
    tracemalloc.start()
    began = time.perf_counter()
    response = client.get(f"/refget/sequence/{big_reference.md5checksum}")
    received = 0
    digest = hashlib.md5()
    # Up to STREAM_BLOCK_BASES (a small BENCH_MBASES) the answer is one body, not a stream.
    for block in response.streaming_content if response.streaming else [response.content]:
        received += len(block)
        digest.update(block)
    seconds = time.perf_counter() - began
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert received == BIG_BASES and digest.hexdigest() == big_reference.md5checksum
    print(f"whole {BIG_BASES / 1e6:g}-Mbase chromosome, streamed in blocks of {views.STREAM_BLOCK_BASES:,} bases")
    print(
        f"  {seconds:.2f} s ({BIG_BASES / seconds / 1e6:.1f} Mbases/s), Python memory peak {peak / 1024**2:.1f} MiB "
        f"for {BIG_BASES / 1024**2:.0f} MiB of bases"
    )


if __name__ == "__main__":
    sys.exit(main())
