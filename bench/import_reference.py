"""Benchmark: import, clone and delete the real plant-virus reference, next to a plain COPY.

    .venv/bin/python bench/import_reference.py [PATH]

Creates its own PostgreSQL database (vs_bench_import, on the server of DATABASE_URL or
postgres://postgres@127.0.0.1:5432), migrates it, and prints:
- import (the service the API's task, the CLI and the demo use): wall time, SQL statements
  (plus COPY statements), peak RSS;
- clone of an imported reference (the clone_reference task's service): wall time;
- deletion of an imported reference (the DELETE request and its task): wall time;
- a plain COPY of the same OTU, isolate and sequence rows into the same tables.
Import, clone and COPY are measured REPEATS times, interleaved, and their medians compared,
so a busy moment on a shared machine does not decide a ratio. The peak RSS is taken after
the first import, before anything else has run. Targets: import <= 3 x COPY, peak RSS
< 300 MB, clone <= 2 x COPY, deletion < 5 s. The database is dropped at the end. Figures
are printed, never asserted.
"""

import gzip
import io
import json
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

from _pg import admin_execute, server_url, with_database  # bench/ is on sys.path when a script runs

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

BENCH_DB = os.environ.get("BENCH_DATABASE_NAME", "vs_bench_import")
REPEATS = int(os.environ.get("BENCH_REPEATS", "3"))
DEFAULT_FILE = ROOT.parent / "shared" / "data" / "ref-plant-viruses.json.gz"


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def current_rss_mb() -> float:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1024**2


class QueryCounter:
    def __init__(self):
        self.count = 0

    def __call__(self, execute, sql, params, many, context):
        self.count += 1
        return execute(sql, params, many, context)


def main(path: Path) -> None:
    admin_execute(f'DROP DATABASE IF EXISTS "{BENCH_DB}"')
    admin_execute(f'CREATE DATABASE "{BENCH_DB}"')
    data_dir = tempfile.mkdtemp(prefix="vs-bench-")
    os.environ["DATABASE_URL"] = with_database(server_url(), BENCH_DB)
    os.environ["DATA_DIR"] = data_dir
    os.environ.pop("REDIS_URL", None)
    os.environ["CELERY_TASK_ALWAYS_EAGER"] = "true"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "virtool_site.settings")
    os.environ.setdefault("LOG_LEVEL", "WARNING")

    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection, connections

    try:
        call_command("migrate", verbosity=0)
        run(path, connection)
    finally:
        connections.close_all()
        admin_execute(f'DROP DATABASE IF EXISTS "{BENCH_DB}"')
        import shutil

        shutil.rmtree(data_dir, ignore_errors=True)


def timed(function, *args, **kwargs):
    started = time.perf_counter()
    result = function(*args, **kwargs)
    return time.perf_counter() - started, result


def run(path: Path, connection) -> None:
    from history.models import Change
    from refs.models import OTU, Isolate, Reference, Sequence
    from refs.services import reference_create
    from refs.processes.clone import reference_clone_run
    from refs.processes.common import CLONE_STEPS
    from refs.services import reference_delete, reference_import_path
    from virtool_site import bulk_copy
    from virtool_site.models import User
    from virtool_site.services import process_create

    user = User.objects.create_superuser(username="bench", email="", password="bench-password")
    print(f"file: {path} ({path.stat().st_size / 1024**2:.1f} MB gzipped), {REPEATS} interleaved runs")
    print(f"RSS before the first import: {current_rss_mb():.0f} MB")

    def import_once(n):
        return reference_import_path(user=user, path=path, name=f"Bench import {n}")

    def clone_once(source, n):
        process = process_create(process_type="clone_reference", steps=CLONE_STEPS, user=user)
        clone = reference_create(user=user, name=f"Bench clone {n}", process=process, cloned_from={"id": source.id})
        reference_clone_run(reference_id=clone.id, process_id=process.id, source_id=source.id, user_id=user.pk)
        return clone

    # The first import runs before anything else, so the peak RSS is its own.
    counter = QueryCounter()
    copies_before = bulk_copy.statements
    with connection.execute_wrapper(counter):
        seconds, first = timed(import_once, 0)
    import_copies = bulk_copy.statements - copies_before
    import_peak = peak_rss_mb()
    counts = (
        OTU.objects.filter(reference=first).count(),
        Isolate.objects.filter(otu__reference=first).count(),
        Sequence.objects.filter(otu__reference=first).count(),
        Change.objects.filter(reference_id=first.id).count(),
    )
    imports, clones, copies = [seconds], [], []
    references = [first]
    clone_counter = QueryCounter()
    copies_before = bulk_copy.statements
    with connection.execute_wrapper(clone_counter):
        seconds, clone = timed(clone_once, first, 0)
    clone_copies = bulk_copy.statements - copies_before
    clone_otus = OTU.objects.filter(reference=clone).count()
    clones.append(seconds)
    references.append(clone)

    baseline = CopyBaseline(path, connection, user)
    copies.append(baseline.run())
    for n in range(1, REPEATS):
        seconds, imported = timed(import_once, n)
        imports.append(seconds)
        references.append(imported)
        seconds, clone = timed(clone_once, imported, n)
        clones.append(seconds)
        references.append(clone)
        copies.append(baseline.run())
    baseline.close()

    deletions = []
    for reference in references:
        seconds, _ = timed(reference_delete, user=user, reference=reference)
        deletions.append(seconds)
    gone = not Reference.all_objects.filter(id__in=[r.id for r in references]).exists()

    import_median, clone_median, copy_median = (statistics.median(x) for x in (imports, clones, copies))
    print()
    print(f"import:  median {import_median:5.2f} s  ({fmt(imports)})  {counter.count} SQL statements + "
          f"{import_copies} COPY, peak RSS {import_peak:.0f} MB  ({counts[0]} OTUs, {counts[1]} isolates, "
          f"{counts[2]} sequences, {counts[3]} changes)")
    print(f"clone:   median {clone_median:5.2f} s  ({fmt(clones)})  {clone_counter.count} SQL statements + "
          f"{clone_copies} COPY  ({clone_otus} OTUs)")
    print(f"delete:  max    {max(deletions):5.2f} s  ({fmt(deletions)})  all gone: {gone}")
    print(f"COPY:    median {copy_median:5.2f} s  ({fmt(copies)})  plain COPY of the same OTU, isolate and "
          "sequence rows into the same tables")
    print()
    print(f"import / COPY = {import_median / copy_median:.2f}  (target <= 3)")
    print(f"clone / COPY  = {clone_median / copy_median:.2f}  (target <= 2)")
    print(f"peak RSS      = {import_peak:.0f} MB  (target < 300)")
    print(f"delete        = {max(deletions):.2f} s  (target < 5)")
    print("(history documents are stored with lz4 when the server supports it; sequences, in the "
          "import as in the COPY, with the server's default TOAST compression)")


def fmt(values) -> str:
    return ", ".join(f"{v:.2f}" for v in values)


class CopyBaseline:
    """COPY of the file's OTU, isolate and sequence rows into the real tables, timed alone
    (rows prepared beforehand, removed afterwards)."""

    def __init__(self, path: Path, connection, user):
        from refs.models import OTU, Isolate, Sequence
        from refs.services import reference_create
        from virtool_site.bulk_copy import copy_columns, copy_lines
        from virtool_site.ids import random_id

        self.connection = connection
        self.reference = reference_create(user=user, name="Bench COPY")
        with gzip.open(path) as handle:
            data = json.load(handle)
        otus, isolates, sequences = [], [], []
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
                [Isolate._meta.db_table, sum(len(o["isolates"]) for o in data["otus"])],
            )
            isolate_ids = iter(row[0] for row in cursor.fetchall())
        for otu in data["otus"]:
            otu_id = random_id()
            otus.append(OTU(id=otu_id, reference=self.reference, name=otu["name"],
                            abbreviation=otu.get("abbreviation") or "", schema=otu.get("schema") or [],
                            taxid=otu.get("taxid"), version=0, verified=True, imported=True))
            for position, isolate in enumerate(otu["isolates"]):
                isolate_id = next(isolate_ids)
                isolates.append(Isolate(id=isolate_id, otu_id=otu_id, isolate_id=isolate["id"], position=position,
                                        source_type=isolate["source_type"], source_name=isolate["source_name"],
                                        default=isolate["default"]))
                for spos, sequence in enumerate(isolate["sequences"]):
                    sequences.append(Sequence(id=random_id(), otu_id=otu_id, isolate_id=isolate_id, position=spos,
                                              accession=sequence["accession"], definition=sequence["definition"],
                                              host=sequence.get("host") or "", segment=sequence.get("segment"),
                                              sequence=sequence["sequence"]))
        self.tables = [
            (OTU, copy_lines(copy_columns(OTU), otus)),
            (Isolate, copy_lines(copy_columns(Isolate), isolates)),
            (Sequence, copy_lines(copy_columns(Sequence), sequences)),
        ]

    def run(self) -> float:
        from django.db import transaction

        from refs.models import OTU, Isolate, Sequence
        from virtool_site.bulk_copy import copy_sql

        started = time.perf_counter()
        with transaction.atomic():
            with self.connection.cursor() as cursor:
                for model, text in self.tables:
                    cursor.copy_expert(copy_sql(model), io.StringIO(text))
        seconds = time.perf_counter() - started
        Sequence.objects.filter(otu__reference=self.reference).delete()
        Isolate.objects.filter(otu__reference=self.reference).delete()
        OTU.objects.filter(reference=self.reference).delete()
        return seconds

    def close(self):
        self.reference.delete()
        self.tables = []


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_FILE)
