"""Benchmark: build the index of the real plant-virus reference, next to bowtie2-build alone.

    .venv/bin/python bench/index_build.py [PATH] [--rounds N]

Creates its own PostgreSQL database (vs_bench_index, on the server of DATABASE_URL or
postgres://postgres@127.0.0.1:5432), migrates it, loads the real reference file's OTUs with
bulk_create (streamed), then, in this one process:
- runs the whole build (`indexes.services.index_build`, what the Celery task runs: manifest-state
  FASTA, reference.fa.gz, reference.json.gz, bowtie2-build, file records, finalize) and
- runs bowtie2-build alone on the same FASTA with the same settings (threads),
and prints both times, their ratio, the build process's memory beyond bowtie2's own (peak RSS
of this process during the build minus its RSS before) and bowtie2-build's peak RSS. As wall
times swing with whatever else the machine runs, it also prints figures that do not: the build
process's own CPU time, and the time the build spends outside bowtie2-build (its critical path
beyond bowtie2), and bowtie2-build's time on the gzipped FASTA (the alternative input).
Targets: build <= 1.15 x bowtie2-build alone; memory beyond bowtie2's own < 300 MB.
With --rounds N the two are run N times, alternately (the index is reset between builds).
The database is dropped at the end. Figures are printed, never asserted.
"""

import argparse
import gzip
import logging
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from _pg import admin_execute, server_url, with_database  # bench/ is on sys.path when a script runs

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

BENCH_DB = os.environ.get("BENCH_DATABASE_NAME", "vs_bench_index")
DEFAULT_FILE = ROOT.parent / "shared" / "data" / "ref-plant-viruses.json.gz"
TARGET_RATIO = 1.15
TARGET_EXTRA_MB = 300


def current_rss_mb() -> float:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1024**2


class RssSampler:
    """Peak RSS of this process while a block runs (sampled every 5 ms)."""

    def __init__(self):
        self.baseline = 0.0
        self.peak = 0.0
        self._stop = threading.Event()

    def _run(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, current_rss_mb())
            self._stop.wait(0.005)

    def __enter__(self):
        self.baseline = self.peak = current_rss_mb()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, current_rss_mb())

    @property
    def extra_mb(self) -> float:
        return self.peak - self.baseline


class BuildPhases(logging.Handler):
    """The phase times `index_files_write` logs: (index id, FASTA s, bowtie2-build s, side files s)."""

    def __init__(self):
        super().__init__(logging.INFO)
        self.last = None

    def emit(self, record):
        if record.msg.startswith("index %s: FASTA"):
            self.last = record.args


def children_peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def main(path: Path, rounds: int, keep: bool = False) -> None:
    admin_execute(f'DROP DATABASE IF EXISTS "{BENCH_DB}"')
    admin_execute(f'CREATE DATABASE "{BENCH_DB}"')
    data_dir = tempfile.mkdtemp(prefix="vs-bench-index-")
    os.environ["DATABASE_URL"] = with_database(server_url(), BENCH_DB)
    os.environ["DATA_DIR"] = data_dir
    # Tasks sent during the build (BrAPI publication of the ready index) go to an in-memory
    # queue, as they go to Redis in production: they are other tasks, not part of the build.
    os.environ["REDIS_URL"] = ""
    os.environ["CELERY_TASK_ALWAYS_EAGER"] = "false"
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "virtool_site.settings")
    try:
        run(path, rounds, Path(data_dir))
    finally:
        from django.db import connections

        connections.close_all()
        if keep:
            print(f"kept database {BENCH_DB} and DATA_DIR {data_dir}")
        else:
            admin_execute(f'DROP DATABASE IF EXISTS "{BENCH_DB}"')
            shutil.rmtree(data_dir, ignore_errors=True)


def run(path: Path, rounds: int, data_dir: Path) -> None:
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    from history.models import Change
    from indexes.models import Index
    from indexes.selectors import index_directory
    from indexes.services import index_build, index_create
    from indexes.tests.real_data import reference_file_load
    from refs.models import OTU, Sequence
    from virtool_site.models import User

    phases = BuildPhases()
    service_logger = logging.getLogger("indexes.services")
    service_logger.addHandler(phases)
    service_logger.setLevel(logging.INFO)
    service_logger.propagate = False

    call_command("migrate", verbosity=0)
    user = User.objects.create_user(username="bench", password="bench-password")
    started = time.monotonic()
    reference = reference_file_load(path, user=user, name="Plant viruses (bench)")
    otu_count = OTU.objects.filter(reference=reference).count()
    sequence_count = Sequence.objects.filter(otu__reference=reference).count()
    print(f"reference file: {path}")
    print(f"loaded {otu_count} OTUs, {sequence_count} sequences in {time.monotonic() - started:.1f} s (not timed below)")
    print(f"bowtie2-build: {settings.BOWTIE2_BUILD_PATH} --threads {settings.BOWTIE2_BUILD_THREADS}; cores: {os.cpu_count()}")

    builds, alones, extras, gz_inputs, outside = [], [], [], [], []
    bowtie2_peak = 0.0
    for round_number in range(1, rounds + 1):
        index, _ = index_create(user=user, reference_id=reference.id, runner="external")
        cpu_before = resource.getrusage(resource.RUSAGE_SELF)
        with RssSampler() as rss:
            started = time.monotonic()
            index_build(index_id=index.id)
            build_seconds = time.monotonic() - started
        cpu_after = resource.getrusage(resource.RUSAGE_SELF)
        build_cpu = (cpu_after.ru_utime - cpu_before.ru_utime) + (cpu_after.ru_stime - cpu_before.ru_stime)
        index.refresh_from_db()
        if not index.ready:
            print(f"build failed: {index.job.error if index.job else 'index removed'}")
            sys.exit(1)
        bowtie2_peak = max(bowtie2_peak, children_peak_rss_mb())
        directory = index_directory(index)
        files = {p.name: p.stat().st_size for p in directory.iterdir()}

        scratch = data_dir / "bowtie2-alone"
        scratch.mkdir(exist_ok=True)
        fasta = scratch / "reference.fa"
        with gzip.open(directory / "reference.fa.gz", "rb") as src, open(fasta, "wb") as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
        command = [
            settings.BOWTIE2_BUILD_PATH, "--threads", str(settings.BOWTIE2_BUILD_THREADS), "-q", "-f",
            str(fasta), str(scratch / "reference"),
        ]
        children_before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.monotonic()
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
        alone_seconds = time.monotonic() - started
        children_after = resource.getrusage(resource.RUSAGE_CHILDREN)
        alone_cpu = (children_after.ru_utime - children_before.ru_utime) + (
            children_after.ru_stime - children_before.ru_stime
        )
        bowtie2_peak = max(bowtie2_peak, children_peak_rss_mb())
        # The alternative the build does not take: bowtie2-build reading the gzipped FASTA.
        started = time.monotonic()
        subprocess.run(
            [*command[:-2], str(directory / "reference.fa.gz"), str(scratch / "from-gz")],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        gz_seconds = time.monotonic() - started
        gz_inputs.append(gz_seconds)
        identical = all(
            (scratch / name).read_bytes() == (directory / name).read_bytes()
            for name in files
            if name.endswith(".bt2")
        )
        shutil.rmtree(scratch)

        builds.append(build_seconds)
        alones.append(alone_seconds)
        extras.append(rss.extra_mb)
        print(
            f"round {round_number}: whole build {build_seconds:.2f} s | bowtie2-build alone {alone_seconds:.2f} s | "
            f"ratio {build_seconds / alone_seconds:.3f} | build process RSS +{rss.extra_mb:.0f} MB "
            f"(from {rss.baseline:.0f} MB) | bowtie2 files identical: {identical}"
        )
        print(
            f"         CPU: build process itself {build_cpu:.2f} s (bowtie2-build excluded) | "
            f"bowtie2-build alone {alone_cpu:.2f} s | load average {os.getloadavg()[0]:.2f}"
        )
        print(f"         bowtie2-build on the gzipped FASTA instead: {gz_seconds:.2f} s")
        if phases.last:
            _, fasta_s, bowtie2_s, side_s = phases.last
            outside.append(build_seconds - bowtie2_s)
            print(
                f"         inside the build: FASTA {fasta_s:.2f} s, then bowtie2-build {bowtie2_s:.2f} s (during which "
                f"reference.fa.gz + reference.json.gz took {side_s:.2f} s); outside bowtie2-build: "
                f"{build_seconds - bowtie2_s:.2f} s"
            )
        if round_number == 1:
            total_mb = sum(files.values()) / 1024**2
            print("files: " + ", ".join(f"{name} {size / 1024**2:.1f} MB" for name, size in sorted(files.items())))
            print(f"       total {total_mb:.1f} MB; {Change.objects.filter(index=index).count()} changes built")
        if round_number < rounds:
            # Reset for the next round: the same changes become unbuilt again.
            Change.objects.filter(index=index).update(index=None)
            OTU.objects.filter(reference=reference).update(last_indexed_version=None)
            Index.objects.filter(id=index.id).delete()
            shutil.rmtree(directory, ignore_errors=True)

    best = min(b / a for b, a in zip(builds, alones))
    median_build = sorted(builds)[len(builds) // 2]
    median_alone = sorted(alones)[len(alones) // 2]
    print("-" * 78)
    print(f"whole build:           {median_build:.2f} s (median of {rounds})")
    print(f"bowtie2-build alone:   {median_alone:.2f} s (median of {rounds})")
    print(f"  (on .fa.gz input:    {sorted(gz_inputs)[len(gz_inputs) // 2]:.2f} s; the build feeds it the plain FASTA)")
    print(f"ratio:                 {median_build / median_alone:.3f} (best round {best:.3f}; target <= {TARGET_RATIO})")
    if outside:
        print(
            f"critical path outside bowtie2-build: {sorted(outside)[len(outside) // 2]:.2f} s (median) = "
            f"{sorted(outside)[len(outside) // 2] / median_alone:.3f} of bowtie2-build alone"
        )
    print(f"memory beyond bowtie2: {max(extras):.0f} MB peak RSS growth of the build process (target < {TARGET_EXTRA_MB} MB)")
    print(f"bowtie2-build peak RSS: {bowtie2_peak:.0f} MB")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("path", nargs="?", type=Path, default=DEFAULT_FILE)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--keep", action="store_true", help="Keep the database and files (for profiling).")
    arguments = parser.parse_args()
    main(arguments.path, max(1, arguments.rounds), arguments.keep)
