"""Benchmark: the API under a mixed read/write load from concurrent clients, next to a ceiling.

    .venv/bin/python bench/api_load.py [--duration 20] [--phase 4] [--clients 4] [--workers 2]

Creates its own PostgreSQL database (vs_bench_load, on the server of DATABASE_URL or
postgres://postgres@127.0.0.1:5432), migrates it, imports the real plant-virus reference
(2,084 OTUs) through refs.services' import path, builds its index (bowtie2-build) and
vacuums and analyses the database (the state autovacuum leaves it in soon after an import).
It then serves the site with gunicorn (`--workers` sync workers, persistent database
connections) on a free port of 127.0.0.1, with a bench-only URLconf (bench/load_urls.py) that
adds a trivial JSON view, `/bench/ceiling`. Client processes (API key auth, one connection per
request, as gunicorn's sync workers close them) then drive, for bounded times:

1. the ceiling view alone (`--phase` seconds): the most this server answers per second; and
   a trivial DRF view with the API's authentication, what any API request costs at least;
2. each list/detail endpoint alone (`--phase` seconds each), every answer built from the
   database. Printed: throughput as a share of the ceiling (target: 40 % or better), p50 and
   p99 latency, errors (bench/api_endpoints.py measures every endpoint on its own, next to its
   raw-SQL floor);
3. a mixed workload (`--duration` seconds): list references, page through OTUs, search OTUs
   by term, get OTUs, list history, get the index, edit an OTU's abbreviation, add and remove
   an isolate; the writes queue on the reference's lock (refs.revisions) while the reads go
   on. Printed per endpoint: requests, throughput, p50 and p99 latency, errors (target: zero
   errors).

Rate limits are raised for the run (capacity is measured, not the per-user allowance).
Traffic goes to 127.0.0.1 only. The database and data directory are removed at the end.
Figures are printed, never asserted; the clients share the machine with the server, so they
lower every figure alike.
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

from _pg import admin_execute, server_url, vacuum_analyze, with_database  # bench/ is on sys.path when a script runs

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

BENCH_DB = os.environ.get("BENCH_DATABASE_NAME", "vs_bench_load")
DEFAULT_FILE = ROOT.parent / "shared" / "data" / "ref-plant-viruses.json.gz"
TARGET_SHARE = 0.40
TERMS = ["virus", "mosaic", "yellow", "ring", "leaf", "mottle", "streak", "necrosis", "curl", "ab"]


# Database --------------------------------------------------------------------------------------


def setup_data(path: Path) -> dict:
    """Migrate, create the bench user and key, import the real reference, build its index."""
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connections

    from indexes.models import Index
    from indexes.services import index_create
    from refs.models import OTU
    from refs.services import reference_import_path
    from virtool_site.models import User
    from virtool_site.services import api_key_create

    call_command("migrate", verbosity=0)
    user = User.objects.create(username="bench", is_superuser=True, is_staff=True)
    _, key = api_key_create(user=user, name="bench")
    started = time.perf_counter()
    reference = reference_import_path(user=user, path=path, name="Plant viruses")
    imported = time.perf_counter() - started
    started = time.perf_counter()
    index, _ = index_create(user=user, reference_id=reference.id)  # built in-process (no broker)
    built = time.perf_counter() - started
    index = Index.objects.get(id=index.id)
    otu_ids = list(OTU.objects.filter(reference=reference).order_by("id").values_list("id", flat=True))
    print(f"setup: imported {len(otu_ids)} OTUs in {imported:.1f} s; index built in {built:.1f} s (ready: {index.ready})")
    connections.close_all()
    return {"key": key, "ref": reference.id, "index": index.id if index.ready else None, "otus": otu_ids}


# Server ----------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def server_start(*, port: int, workers: int, env: dict, log_path: Path) -> subprocess.Popen:
    log = open(log_path, "wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "virtool_site.wsgi:application", "--bind", f"127.0.0.1:{port}",
         "--workers", str(workers), "--chdir", str(ROOT), "--timeout", "60", "--log-level", "warning"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited:\n{log_path.read_text()}")
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            connection.request("GET", "/bench/ceiling")
            if connection.getresponse().status == 200:
                connection.close()
                return process
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("gunicorn did not start")


# Clients ---------------------------------------------------------------------------------------


def request(port: int, key: str, method: str, path: str, body=None) -> tuple[int, bytes, float]:
    data = json.dumps(body).encode() if body is not None else None
    headers = {"Authorization": f"Bearer {key}", "Connection": "close"}
    if data is not None:
        headers["Content-Type"] = "application/json"
    started = time.perf_counter()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        connection.request(method, path, body=data, headers=headers)
        response = connection.getresponse()
        payload = response.read()
        return response.status, payload, time.perf_counter() - started
    finally:
        connection.close()


def mixed_calls(rng: random.Random, data: dict, client: int, counter: list[int]):
    """The next step of the mixed workload: [(endpoint, method, path, body, on_response)]."""
    otu = rng.choice(data["otus"])
    ref = data["ref"]
    choice = rng.choices(
        ["refs", "otus_page", "otus_term", "otu", "history", "index", "edit", "isolate"],
        weights=[2, 3, 2, 4, 2, 1, 1, 1],
    )[0]
    if choice == "refs":
        return [("list refs", "GET", "/api/refs", None)]
    if choice == "otus_page":
        return [("list OTUs (page)", "GET", f"/api/refs/{ref}/otus?page={rng.randint(1, 80)}&per_page=25", None)]
    if choice == "otus_term":
        return [("list OTUs (term)", "GET", f"/api/refs/{ref}/otus?term={rng.choice(TERMS)}", None)]
    if choice == "otu":
        return [("get OTU", "GET", f"/api/otus/{otu}", None)]
    if choice == "history":
        return [("list history", "GET", f"/api/refs/{ref}/history?page={rng.randint(1, 50)}&per_page=25", None)]
    if choice == "index" and data["index"]:
        return [("get index", "GET", f"/api/indexes/{data['index']}", None)]
    if choice == "edit":
        counter[0] += 1
        # Unique across phases and runs: a taken abbreviation is a 400, not load.
        abbreviation = f"B{client}x{counter[0]}-{os.getpid()}"
        return [("edit OTU", "PATCH", f"/api/otus/{otu}", {"abbreviation": abbreviation})]
    return [("add isolate", "POST", f"/api/otus/{otu}/isolates", {"source_type": "isolate", "source_name": f"bench {client}"})]


def client_run(port: int, data: dict, mode, seconds: float, client: int, results) -> None:
    """One client process: `mode` is "mixed" or one (endpoint, path) pair, repeated."""
    rng = random.Random(client * 7919 + int(time.time()))
    latencies: dict[str, list[float]] = defaultdict(list)
    errors: Counter = Counter()
    samples: list[str] = []
    counter = [0]
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if mode == "mixed":
            calls = mixed_calls(rng, data, client, counter)
        else:
            name, path = mode
            calls = [(name, "GET", path.format(otu=rng.choice(data["otus"]), page=rng.randint(1, 80),
                                               term=rng.choice(TERMS)), None)]
        for name, method, path, body in calls:
            try:
                status, payload, elapsed = request(port, data["key"], method, path, body)
            except OSError as error:
                errors[name] += 1
                samples.append(f"{method} {path}: {type(error).__name__}: {error}")
                continue
            latencies[name].append(elapsed)
            if status >= 400:
                errors[name] += 1
                samples.append(f"{method} {path}: {status} {payload[:200]!r}")
            elif name == "add isolate":
                # Remove the isolate just added: the OTU returns to its state.
                isolate_id = json.loads(payload)["id"]
                otu_id = path.split("/")[3]
                try:
                    status, payload, elapsed = request(port, data["key"], "DELETE", f"/api/otus/{otu_id}/isolates/{isolate_id}")
                    latencies["remove isolate"].append(elapsed)
                    if status != 204:
                        errors["remove isolate"] += 1
                        samples.append(f"DELETE isolate: {status} {payload[:200]!r}")
                except OSError as error:
                    errors["remove isolate"] += 1
                    samples.append(f"DELETE isolate: {error}")
    results.put((dict(latencies), dict(errors), samples[:5]))


def run_phase(port: int, data: dict, mode, seconds: float, clients: int) -> tuple[dict, Counter, list[str]]:
    results = multiprocessing.Queue()
    processes = [
        multiprocessing.Process(target=client_run, args=(port, data, mode, seconds, n, results)) for n in range(clients)
    ]
    for process in processes:
        process.start()
    latencies: dict[str, list[float]] = defaultdict(list)
    errors: Counter = Counter()
    samples: list[str] = []
    for _ in processes:
        part_latencies, part_errors, part_samples = results.get(timeout=seconds + 120)
        for name, values in part_latencies.items():
            latencies[name].extend(values)
        errors.update(part_errors)
        samples.extend(part_samples)
    for process in processes:
        process.join()
    return latencies, errors, samples


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


# Main ------------------------------------------------------------------------------------------

ISOLATED = [
    ("list refs", "/api/refs"),
    ("list OTUs (page)", "/api/refs/{ref}/otus?page={page}&per_page=25"),
    ("list OTUs (term)", "/api/refs/{ref}/otus?term={term}"),
    ("get OTU", "/api/otus/{otu}"),
    ("list history", "/api/refs/{ref}/history?page={page}&per_page=25"),
    ("get index", "/api/indexes/{index}"),
]


def isolated_phases(port: int, data: dict, args, ceiling: float, floor: float) -> tuple[dict, int]:
    """Each list/detail endpoint alone: {name: (req/s, p50, p99)} and the error count."""
    figures, all_errors = {}, 0
    for name, template in ISOLATED:
        if name == "get index" and not data["index"]:
            continue
        path = template.replace("{ref}", data["ref"]).replace("{index}", str(data["index"]))
        latencies, errors, samples = run_phase(port, data, (name, path), args.phase, args.clients)
        values = latencies[name]
        all_errors += sum(errors.values())
        figures[name] = (len(values) / args.phase, percentile(values, 0.5), percentile(values, 0.99), sum(errors.values()))
        for sample in samples[:3]:
            print(f"    error ({name}): {sample}")
    return figures, all_errors


def mixed_phase(port: int, data: dict, args, ceiling: float, label: str) -> int:
    latencies, errors, samples = run_phase(port, data, "mixed", args.duration, args.clients)
    total = sum(len(v) for v in latencies.values())
    print(f"\nmixed workload, {label}, {args.duration:.0f} s: {total / args.duration:.0f} req/s overall "
          f"({total / args.duration / ceiling:.0%} of the ceiling), errors {sum(errors.values())} (target 0)")
    print(f"  {'endpoint':<20} {'requests':>8} {'req/s':>7} {'p50 ms':>7} {'p99 ms':>7} {'errors':>6}")
    for name in sorted(latencies, key=lambda n: -len(latencies[n])):
        values = latencies[name]
        print(f"  {name:<20} {len(values):>8} {len(values) / args.duration:>7.1f} "
              f"{percentile(values, 0.5) * 1000:>7.1f} {percentile(values, 0.99) * 1000:>7.1f} {errors[name]:>6}")
    for sample in samples[:5]:
        print(f"  error: {sample}")
    return sum(errors.values())


def server_stop(server) -> None:
    server.terminate()
    try:
        server.wait(timeout=20)
    except subprocess.TimeoutExpired:
        server.kill()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=float(os.environ.get("BENCH_DURATION", 20)))
    parser.add_argument("--phase", type=float, default=float(os.environ.get("BENCH_PHASE", 4)))
    parser.add_argument("--clients", type=int, default=int(os.environ.get("BENCH_CLIENTS", 4)))
    parser.add_argument("--workers", type=int, default=int(os.environ.get("BENCH_WORKERS", 2)))
    parser.add_argument("path", nargs="?", default=str(DEFAULT_FILE))
    args = parser.parse_args()

    admin_execute(f'DROP DATABASE IF EXISTS "{BENCH_DB}"')
    admin_execute(f'CREATE DATABASE "{BENCH_DB}"')
    data_dir = Path(tempfile.mkdtemp(prefix="vs-bench-load-"))
    database_url = with_database(server_url(), BENCH_DB)
    os.environ.update(
        DATABASE_URL=database_url, DATA_DIR=str(data_dir), CELERY_TASK_ALWAYS_EAGER="true", LOG_LEVEL="WARNING",
        DJANGO_SETTINGS_MODULE="virtool_site.settings",
    )
    os.environ.pop("REDIS_URL", None)
    server = None
    try:
        data = setup_data(Path(args.path))
        vacuum_analyze()
        env = {
            **os.environ,
            "ROOT_URLCONF": "bench.load_urls",
            "CONN_MAX_AGE": "60",
            "THROTTLE_WRITE_RATE": "1000000/minute",
            "THROTTLE_SEARCH_RATE": "1000000/minute",
            "LOG_LEVEL": "ERROR",
        }
        all_errors = 0

        port = free_port()
        server = server_start(port=port, workers=args.workers, env=env, log_path=data_dir / "gunicorn.log")
        print(
            f"server: gunicorn, {args.workers} sync workers, 127.0.0.1; {args.clients} client processes; "
            f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs"
        )
        run_phase(port, data, ("warm-up", "/api/otus/{otu}"), 1.0, args.clients)
        latencies, errors, _ = run_phase(port, data, ("ceiling", "/bench/ceiling"), args.phase, args.clients)
        ceiling = len(latencies["ceiling"]) / args.phase
        print(f"\nceiling (trivial Django JSON view): {ceiling:.0f} req/s, p50 "
              f"{percentile(latencies['ceiling'], 0.5) * 1000:.1f} ms, errors {sum(errors.values())}")
        latencies, errors, _ = run_phase(port, data, ("drf", "/bench/drf"), args.phase, args.clients)
        floor = len(latencies["drf"]) / args.phase
        print(f"trivial DRF view with API key auth: {floor:.0f} req/s ({floor / ceiling:.0%} of the ceiling), p50 "
              f"{percentile(latencies['drf'], 0.5) * 1000:.1f} ms, errors {sum(errors.values())}")
        figures, errors = isolated_phases(port, data, args, ceiling, floor)
        all_errors += errors

        print(f"\nlist/detail endpoints alone ({args.phase:.0f} s each; target >= {TARGET_SHARE:.0%} of the ceiling "
              f"= {TARGET_SHARE * ceiling:.0f} req/s):")
        print(f"  {'endpoint':<20} {'req/s':>7} {'share':>6} {'of DRF':>6} {'p50 ms':>7} {'p99 ms':>7} {'errors':>6}")
        for name, (rate, p50, p99, errs) in figures.items():
            verdict = "ok" if rate >= TARGET_SHARE * ceiling else "BELOW TARGET"
            print(f"  {name:<20} {rate:>7.0f} {rate / ceiling:>6.0%} {rate / floor:>6.0%} "
                  f"{p50 * 1000:>7.1f} {p99 * 1000:>7.1f} {errs:>6}  {verdict}")
        all_errors += mixed_phase(port, data, args, ceiling, "every answer built from the database")
        print(f"\nerrors in all phases: {all_errors}")
    finally:
        if server is not None:
            server_stop(server)
        from django.db import connections

        connections.close_all()
        admin_execute(f'DROP DATABASE IF EXISTS "{BENCH_DB}" WITH (FORCE)')
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
