"""Benchmark: the time and peak memory of importing pathological reference files (issue 17).

    .venv/bin/python bench/pathological_import.py [--name-mib 950] [--sequence-mib 950]
        [--otus 5000000] [--depth 100000000] [--no-real]

Each file is generated streamed into gzip (small on disk), then imported through the import
service (`refs.services.reference_processes.reference_import_path`: the process and writer
the API's task uses) in a process of its own, so that its peak RSS is its own:

- huge name: a valid file but for one OTU name of --name-mib MiB (the issue: 950 MiB sat in
  `validate` for over 300 s while the worker grew by 300 MB);
- tiny OTUs: --otus OTUs of a few bytes each;
- deep nesting: one OTU nesting --depth lists;
- long sequence: one sequence of --sequence-mib MiB;
- and, for comparison, the real plant-virus reference (which must still import).

Printed per file: compressed and inflated size, wall time of the import, peak RSS of the
importing process (and its RSS before the import: Django itself), the process's error. The
database (vs_bench_pathological, on the server of DATABASE_URL or
postgres://postgres@127.0.0.1:5432) is created, migrated and dropped. Figures are printed,
never asserted.
"""

import argparse
import gzip
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _pg import admin_execute, server_url, with_database  # bench/ is on sys.path when a script runs

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

BENCH_DB = os.environ.get("BENCH_DATABASE_NAME", "vs_bench_pathological")
REAL_FILE = ROOT.parent / "shared" / "data" / "ref-plant-viruses.json.gz"


def rss_kb(field: str) -> int:
    status = Path("/proc/self/status").read_text()
    return int(next(line for line in status.splitlines() if line.startswith(field)).split()[1])


def setup_django(data_dir: str) -> None:
    os.environ["DATABASE_URL"] = with_database(server_url(), BENCH_DB)
    os.environ["DATA_DIR"] = data_dir
    os.environ.pop("REDIS_URL", None)
    os.environ["CELERY_TASK_ALWAYS_EAGER"] = "true"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "virtool_site.settings")
    os.environ.setdefault("LOG_LEVEL", "ERROR")
    import django

    django.setup()


def child(case: str, path: str, data_dir: str) -> None:
    """Import one file; print one line of JSON."""
    setup_django(data_dir)
    from refs.models import OTU
    from refs.processes.common import TransferError
    from refs.services.reference_processes import reference_import_path
    from virtool_site.models import Process, User

    user, _ = User.objects.get_or_create(username="bench")
    before = rss_kb("VmRSS")
    started = time.monotonic()
    try:
        reference = reference_import_path(user=user, path=path, name=f"{case} {time.time_ns()}")
        error, otus = None, OTU.objects.filter(reference=reference).count()
    except TransferError:
        process = Process.objects.order_by("-created_at").first()
        error, otus = process.error, 0
    elapsed = time.monotonic() - started
    figures = {"seconds": elapsed, "peak_kb": rss_kb("VmHWM"), "before_kb": before, "error": error, "otus": otus}
    print(json.dumps(figures))


def inflated_size(path: Path) -> int:
    size = 0
    with gzip.open(path, "rb") as handle:
        while data := handle.read(4 * 1024 * 1024):
            size += len(data)
    return size


def main(arguments) -> None:
    from refs.tests.pathological import deep_file, huge_name_file, long_sequence_file, tiny_otus_file

    work = Path(tempfile.mkdtemp(prefix="vs-bench-patho-"))
    data_dir = str(work / "data")
    files = {}
    print("generating files ...", flush=True)
    mib = 1024 * 1024
    files["huge name"] = huge_name_file(work / "name.json.gz", chars=arguments.name_mib * mib, level=1)
    files["tiny OTUs"] = tiny_otus_file(work / "tiny.json.gz", count=arguments.otus, level=1)
    files["deep nesting"] = deep_file(work / "deep.json.gz", depth=arguments.depth, level=1)
    files["long sequence"] = long_sequence_file(work / "sequence.json.gz", chars=arguments.sequence_mib * mib, level=1)
    if arguments.real:
        files["real reference"] = REAL_FILE

    admin_execute(f'DROP DATABASE IF EXISTS "{BENCH_DB}"')
    admin_execute(f'CREATE DATABASE "{BENCH_DB}"')
    try:
        env = {**os.environ, "DATABASE_URL": with_database(server_url(), BENCH_DB), "DATA_DIR": data_dir}
        env.pop("REDIS_URL", None)
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "--verbosity", "0"], cwd=ROOT, env=env, check=True
        )
        print(f"\n{'file':<15} {'gzip':>9} {'inflated':>10} {'time':>8} {'peak RSS':>9} {'(Django)':>9}  outcome")
        for case, path in files.items():
            result = subprocess.run(
                [sys.executable, __file__, "--child", case, str(path), data_dir],
                cwd=ROOT, env=env, capture_output=True, text=True, check=True,
            )
            figures = json.loads(result.stdout.strip().splitlines()[-1])
            error = figures["error"]
            if error is None:
                outcome = f"imported, {figures['otus']} OTUs"
            else:
                problems = error.get("errors") or [error]
                outcome = "; ".join(p.get("message", p["id"]) for p in problems)[:110]
            print(
                f"{case:<15} {path.stat().st_size / mib:>7.1f}MB {inflated_size(path) / mib:>8.0f}MB "
                f"{figures['seconds']:>7.2f}s {figures['peak_kb'] / 1024:>7.0f}MB {figures['before_kb'] / 1024:>7.0f}MB"
                f"  {outcome}",
                flush=True,
            )
    finally:
        admin_execute(f'DROP DATABASE IF EXISTS "{BENCH_DB}"')


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(*sys.argv[2:5])
        sys.exit(0)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--name-mib", type=int, default=950)
    parser.add_argument("--sequence-mib", type=int, default=950)
    parser.add_argument("--otus", type=int, default=5_000_000)
    parser.add_argument("--depth", type=int, default=100_000_000)
    parser.add_argument("--no-real", dest="real", action="store_false")
    main(parser.parse_args())
