"""Benchmark: every list and detail endpoint of /api and /brapi/v2, next to `GET /api/account`
(a trivial authenticated DRF view) and to a raw-SQL floor, in one run.

    .venv/bin/python bench/api_endpoints.py [PATH] [--requests 200] [--phase 3] [--clients 4]
        [--workers 2] [--only NAME ...] [--keep] [--reuse] [--profile NAME] [--no-server]

Creates its own PostgreSQL database (vs_bench_endpoints, on the server of DATABASE_URL or
postgres://postgres@127.0.0.1:5432), migrates it and fills it: the real plant-virus reference
(2,084 OTUs) imported and built into an index (bowtie2-build) and published to BrAPI, unbuilt
edits, a FASTA assembly, users, groups, samples with Pathoscope analyses, jobs, processes,
uploads and saved BrAPI searches; then VACUUM ANALYZE. Every answer is built from the
database (the site keeps no answer cache). The caller is a signed-in user who is not an
administrator and sees the reference through its rights (administrator-only endpoints: an
administrator), with an API key, so every request pays authentication and visibility as
clients' requests do.

For each endpoint, at the default page size (15, BrAPI's pageSize=15), at 100 and as a detail:

1. in-process, through Django's test client (the whole middleware and DRF stack, no HTTP):
   median and p99 latency over `--requests` requests (URLs drawn from the data: a random OTU,
   page, change...), and the queries one request runs;
2. the raw-SQL floor: the same page or document read with one psycopg2 query and serialized
   with orjson (bench/floors.py), timed the same way; and whether it answers what the endpoint
   answers, for 5 of its URLs: the same bytes, the same JSON values, or (printed) how not;
3. on gunicorn (`--workers` sync workers, persistent database connections, `--clients` client
   processes, a connection per request): throughput of the endpoint, of `GET /api/account`
   and of the floor served as a bare Django view (`/bench/floor/NAME`, bench/load_urls.py),
   `--phase` seconds each, endpoint and references alternating so that a noisy neighbour
   lowers them alike.

Printed per endpoint: p50 and p99 in-process, queries, floor p50, req/s on gunicorn, its share
of `GET /api/account`'s req/s and the floor's req/s over the endpoint's. Targets: default-size
pages and detail answers >= 50 % of `GET /api/account`'s throughput, 100-item pages >= 25 %,
every endpoint within 3x of its floor (floor req/s / endpoint req/s <= 3). Figures are printed,
never asserted; the clients share the machine's cores with the server and lower every figure
alike, so the ratios are what to read.

`--only NAME` runs only endpoints whose name contains NAME. `--keep` keeps the database (and
`--reuse` uses a kept one instead of building it again); `--profile NAME` profiles that endpoint
in-process with pyinstrument instead of benchmarking; `--no-server` prints the in-process
figures only.
"""

from __future__ import annotations

import argparse
import io
import os
import random
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from urllib.parse import quote

from _pg import admin_execute, server_url, vacuum_analyze, with_database  # bench/ is on sys.path when a script runs

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

BENCH_DB = os.environ.get("BENCH_DATABASE_NAME", "vs_bench_endpoints")
DEFAULT_FILE = ROOT.parent / "shared" / "data" / "ref-plant-viruses.json.gz"
TARGET_DEFAULT = 0.50
TARGET_LARGE = 0.25
TARGET_FLOOR = 3.0
SAMPLES = 120
ANALYSED_SAMPLES = 40


# Data ------------------------------------------------------------------------------------------


def setup_data(path: Path) -> None:
    """Migrate and fill the database (see the docstring)."""
    import django

    django.setup()
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.core.management import call_command

    from analyses import services as analyses_services
    from analyses.models import Workflow
    from brapi import services as brapi_services
    from indexes.models import Index
    from indexes.services import index_create
    from refs import services as refs_services
    from refs.models import OTU, Sequence
    from refs.services import reference_import_path
    from virtool_site import services as site_services
    from virtool_site.models import User

    call_command("migrate", verbosity=0)
    rng = random.Random(7)
    administrator = User.objects.create(username="bench-admin", is_superuser=True, is_staff=True)
    owner = User.objects.create(username="bench", create_ref=True, create_sample=True, upload_file=True)
    for n in range(40):
        User.objects.create(username=f"user{n:02d}")
    groups = [site_services.group_create(name=f"group {n}") for n in range(6)]
    owner.groups.add(groups[0])
    started = time.perf_counter()
    reference = reference_import_path(user=owner, path=path, name="Plant viruses")
    print(f"setup: imported {OTU.objects.filter(reference=reference).count()} OTUs in {time.perf_counter() - started:.1f} s")
    for n, group in enumerate(groups[:3]):
        refs_services.reference_group_add(user=owner, reference=reference, group_id=group.name, rights={"build": n == 0})
    for n in range(5):
        refs_services.reference_user_add(user=owner, reference=reference, user_id=f"user{n:02d}", rights={"modify_otu": True})
    started = time.perf_counter()
    index, _ = index_create(user=owner, reference_id=reference.id)  # built in-process (no broker)
    index = Index.objects.get(id=index.id)
    print(f"setup: index built in {time.perf_counter() - started:.1f} s (ready: {index.ready})")
    brapi_services.referenceset_publish_index(index=index)
    otu_ids = list(OTU.objects.filter(reference=reference).order_by("id").values_list("id", flat=True))
    for n, otu_id in enumerate(rng.sample(otu_ids, 60)):
        refs_services.otu_edit(user=owner, otu_id=otu_id, abbreviation=f"BENCH{n}")
    public = refs_services.reference_create(user=administrator, name="Public viruses", public=True)
    refs_services.otu_create(user=administrator, reference=public, name="Grapevine virus A", abbreviation="GVA")
    fasta = io.BytesIO(b"".join(
        f">chr{n:02d} chromosome {n}\n".encode() + "".join(rng.choice("ACGT") for _ in range(20_000)).encode() + b"\n"
        for n in range(25)
    ))
    brapi_services.referenceset_import_fasta(stream=fasta, name="Assembly", species="Musa acuminata", crop="banana")
    brapi_services.search_create(user=owner, kind="references", criteria={}, page_size=100)
    brapi_services.search_create(user=owner, kind="referencesets", criteria={}, page_size=15)

    sequences = list(Sequence.objects.filter(otu__reference=reference).values_list("id", "otu_id")[:400])
    for n in range(SAMPLES):
        sample = analyses_services.sample_create(user=owner, name=f"Sample {n:03d}", host="Vitis", group=groups[0].name)
        if n >= ANALYSED_SAMPLES:
            continue
        for workflow in (Workflow.PATHOSCOPE_BOWTIE,) * (20 if n == 0 else 1):
            analysis, _ = analyses_services.analysis_create(user=owner, sample=sample, ref_id=reference.id, workflow=workflow)
            hits = [
                {
                    "id": sequence_id, "otu": {"id": otu_id, "version": 0},
                    "final": {"pi": rng.random(), "best": rng.random(), "high": rng.random(), "low": rng.random(), "reads": rng.randint(1, 900)},
                    "initial": {"pi": rng.random(), "best": rng.random(), "high": rng.random(), "low": rng.random(), "reads": rng.randint(1, 900)},
                    "align": None, "coverage": rng.random(), "depth": rng.random() * 40,
                }
                for sequence_id, otu_id in rng.sample(sequences, 20)
            ]
            analyses_services.analysis_finalize(
                analysis_id=analysis.id, results={"read_count": 100_000, "subtracted_count": 50, "hits": hits}
            )
    for n in range(30):
        uploaded = SimpleUploadedFile(f"reads_{n}.fq.gz", b"@r\nACGT\n+\nIIII\n")
        site_services.upload_create(user=owner, name=f"reads_{n}.fq.gz", upload_type="reads", uploaded_file=uploaded)
        process = site_services.process_create(process_type="clone_reference", steps=["copy", "history"], user=owner)
        site_services.process_step(process_id=process.id, step="history")
    for n in range(20):
        site_services.api_key_create(user=owner, name=f"key {n}")


def bench_keys() -> dict:
    """Fresh API keys of the bench users, and the ids URLs are drawn from."""
    from analyses.models import Analysis, Sample
    from brapi.models import Reference as BrapiReference
    from brapi.models import ReferenceSet, Search
    from history.models import Change
    from indexes.models import Index
    from refs.models import OTU, Isolate, Reference, Sequence
    from virtool_site.models import Job, Process, User
    from virtool_site.services import api_key_create

    reference = Reference.objects.get(name="Plant viruses")
    otus = list(OTU.objects.filter(reference=reference).values_list("id", flat=True))
    isolates = list(Isolate.objects.filter(otu__reference=reference).values_list("otu_id", "isolate_id"))
    sequences = list(Sequence.objects.filter(otu__reference=reference).values_list("otu_id", "isolate__isolate_id", "id")[:3000])
    index = Index.objects.filter(reference=reference, ready=True).first()
    sample = Sample.objects.get(name="Sample 000")
    reference_set = ReferenceSet.objects.get(id=index.id)
    return {
        "key": api_key_create(user=User.objects.get(username="bench"), name="run")[1],
        "admin_key": api_key_create(user=User.objects.get(username="bench-admin"), name="run")[1],
        "ref": reference.id,
        "otus": otus,
        "otu_pages": (len(otus) + 99) // 100,
        "isolates": isolates,
        "sequences": sequences,
        "changes": list(Change.objects.filter(reference_id=reference.id).values_list("id", flat=True)[:3000]),
        "change_pages": (Change.objects.filter(reference_id=reference.id).count() + 99) // 100,
        "index": index.id,
        "users": list(User.objects.values_list("username", flat=True)),
        "groups": ["group 0", "group 1", "group 2"],
        "processes": list(Process.objects.values_list("id", flat=True)),
        "jobs": list(Job.objects.values_list("id", flat=True)),
        "samples": list(Sample.objects.values_list("id", flat=True)),
        "sample": sample.id,
        "analyses": list(Analysis.objects.filter(ready=True).values_list("id", flat=True)),
        "reference_set": reference_set.id,
        "reference_sets": list(ReferenceSet.objects.values_list("id", flat=True)),
        "brapi_references": list(BrapiReference.objects.values_list("id", flat=True)[:3000]),
        "brapi_pages": BrapiReference.objects.count() // 100,
        "search": Search.objects.get(kind="references").id,
        "set_search": Search.objects.get(kind="referencesets").id,
    }


# Endpoints -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Endpoint:
    name: str
    kind: str  # "page" (default size), "large" (100 items) or "detail"
    url: object  # callable(rng, data) -> path
    floor: str | None = None  # function name in bench/floors.py or bench/floors_brapi.py
    admin: bool = False
    #: (regular expression of JSON paths, why): what the floor knowingly answers otherwise.
    floor_leaves_out: tuple[str, str] | None = None


def _pick(values):
    return lambda rng, data: rng.choice(data[values])


def endpoints() -> list[Endpoint]:
    def page(pages_key=None, pages=10):
        return lambda rng: rng.randint(1, pages)

    E = Endpoint
    return [
        E("account keys", "detail", lambda r, d: "/api/account/keys", "account_keys"),
        E("users", "page", lambda r, d: f"/api/users?page={r.randint(1, 3)}", "users", admin=True),
        E("users", "large", lambda r, d: "/api/users?per_page=100", "users", admin=True),
        E("user", "detail", lambda r, d: f"/api/users/{r.choice(d['users'])}", "user", admin=True),
        E("groups", "detail", lambda r, d: "/api/groups", "groups", admin=True),
        E("group", "detail", lambda r, d: f"/api/groups/{quote(r.choice(d['groups']))}", "group", admin=True),
        E("processes", "large", lambda r, d: "/api/processes", "processes"),
        E("process", "detail", lambda r, d: f"/api/processes/{r.choice(d['processes'])}", "process"),
        E("jobs", "page", lambda r, d: f"/api/jobs?page={r.randint(1, 2)}", "jobs"),
        E("jobs", "large", lambda r, d: "/api/jobs?per_page=100", "jobs"),
        E("job", "detail", lambda r, d: f"/api/jobs/{r.choice(d['jobs'])}", "job"),
        E("uploads", "page", lambda r, d: f"/api/uploads?page={r.randint(1, 2)}", "uploads"),
        E("uploads", "large", lambda r, d: "/api/uploads?per_page=100", "uploads"),
        E("refs", "page", lambda r, d: "/api/refs", "refs"),
        E("ref", "detail", lambda r, d: f"/api/refs/{d['ref']}", "ref"),
        E("ref users", "detail", lambda r, d: f"/api/refs/{d['ref']}/users", "ref_users"),
        E("ref groups", "detail", lambda r, d: f"/api/refs/{d['ref']}/groups", "ref_groups"),
        E("ref updates", "detail", lambda r, d: f"/api/refs/{d['ref']}/updates", "ref_updates"),
        E("otus", "page", lambda r, d: f"/api/refs/{d['ref']}/otus?page={r.randint(1, 130)}", "otus"),
        E("otus", "large", lambda r, d: f"/api/refs/{d['ref']}/otus?per_page=100&page={r.randint(1, d['otu_pages'])}", "otus"),
        E("otus (term)", "page", lambda r, d: f"/api/refs/{d['ref']}/otus?term={r.choice(TERMS)}", "otus"),
        E("otu", "detail", lambda r, d: f"/api/otus/{r.choice(d['otus'])}", "otu"),
        E("isolates", "detail", lambda r, d: f"/api/otus/{r.choice(d['otus'])}/isolates", "isolates"),
        E("isolate", "detail", lambda r, d: "/api/otus/{}/isolates/{}".format(*r.choice(d["isolates"])), "isolate"),
        E("sequences", "detail", lambda r, d: "/api/otus/{}/isolates/{}/sequences".format(*r.choice(d["isolates"])), "sequences"),
        E("sequence", "detail", lambda r, d: "/api/otus/{}/isolates/{}/sequences/{}".format(*r.choice(d["sequences"])), "sequence"),
        E("history", "page", lambda r, d: f"/api/history?page={r.randint(1, 130)}", "history"),
        E("history", "large", lambda r, d: f"/api/history?per_page=100&page={r.randint(1, d['change_pages'])}", "history"),
        E("ref history", "page", lambda r, d: f"/api/refs/{d['ref']}/history?page={r.randint(1, 130)}", "history"),
        E("ref history", "large", lambda r, d: f"/api/refs/{d['ref']}/history?per_page=100&page={r.randint(1, d['change_pages'])}", "history"),
        E("change", "detail", lambda r, d: f"/api/history/{r.choice(d['changes'])}", "change"),
        E("otu history", "detail", lambda r, d: f"/api/otus/{r.choice(d['otus'])}/history", "otu_history"),
        E("indexes", "page", lambda r, d: "/api/indexes", "indexes"),
        E("ref indexes", "page", lambda r, d: f"/api/refs/{d['ref']}/indexes", "indexes"),
        E("index", "detail", lambda r, d: f"/api/indexes/{d['index']}", "index"),
        E("index history", "page", lambda r, d: f"/api/indexes/{d['index']}/history?page={r.randint(1, 130)}", "index_history"),
        E("index history", "large", lambda r, d: f"/api/indexes/{d['index']}/history?per_page=100&page={r.randint(1, 20)}", "index_history"),
        E("samples", "page", lambda r, d: f"/api/samples?page={r.randint(1, 8)}", "samples"),
        E("samples", "large", lambda r, d: "/api/samples?per_page=100", "samples"),
        E("sample", "detail", lambda r, d: f"/api/samples/{r.choice(d['samples'])}", "sample"),
        E("sample analyses", "page", lambda r, d: f"/api/samples/{d['sample']}/analyses", "sample_analyses"),
        E("analysis", "detail", lambda r, d: f"/api/analyses/{r.choice(d['analyses'])}", "analysis", floor_leaves_out=(
            r"^\.(results\.hits|diagnosis)\[\d+\]\.(otu\.(name|abbreviation)|isolate\.(id|name)|accession|definition|length)$",
            "hits on OTUs edited since the hit's version, which it reads as they are now (the endpoint rebuilds them from history)",
        )),
        E("brapi serverinfo", "detail", lambda r, d: "/brapi/v2/serverinfo", None),
        E("brapi commoncropnames", "detail", lambda r, d: "/brapi/v2/commoncropnames", "commoncropnames"),
        E("brapi referencesets", "page", lambda r, d: "/brapi/v2/referencesets?pageSize=15", "referencesets"),
        E("brapi referenceset", "detail", lambda r, d: f"/brapi/v2/referencesets/{r.choice(d['reference_sets'])}", "referenceset"),
        E("brapi references", "page", lambda r, d: f"/brapi/v2/references?pageSize=15&page={r.randint(0, d['brapi_pages'] * 6)}", "brapi_references"),
        E("brapi references", "large", lambda r, d: f"/brapi/v2/references?pageSize=100&page={r.randint(0, d['brapi_pages'])}", "brapi_references"),
        E("brapi reference", "detail", lambda r, d: f"/brapi/v2/references/{r.choice(d['brapi_references'])}", "brapi_reference"),
        E("brapi bases", "detail", lambda r, d: f"/brapi/v2/references/{r.choice(d['brapi_references'])}/bases", "bases"),
        E("brapi search results", "large", lambda r, d: f"/brapi/v2/search/references/{d['search']}?pageSize=100&page={r.randint(0, d['brapi_pages'])}", "brapi_search_references"),
        E("brapi set search results", "page", lambda r, d: f"/brapi/v2/search/referencesets/{d['set_search']}?pageSize=15", "brapi_search_referencesets"),
    ]


TERMS = ["virus", "mosaic", "yellow", "ring", "leaf", "mottle", "streak", "necrosis", "curl", "ab"]


# In-process ------------------------------------------------------------------------------------


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def _client(data: dict, endpoint: Endpoint):
    from django.test import Client

    return Client(HTTP_AUTHORIZATION=f"Bearer {data['admin_key' if endpoint.admin else 'key']}")


def in_process(endpoint: Endpoint, data: dict, count: int) -> tuple[float, float, int]:
    """(p50, p99 seconds, queries of one request) through Django's test client."""
    from django.db import connection

    rng = random.Random(hash(endpoint.name))
    client = _client(data, endpoint)
    for _ in range(5):
        response = client.get(endpoint.url(rng, data))
        if response.status_code != 200:
            raise RuntimeError(f"{endpoint.name}: {response.status_code} {response.content[:300]!r}")
    queries = []
    # Counted as executed (the test client's request_started signal clears connection.queries).
    with connection.execute_wrapper(lambda execute, sql, *rest: (queries.append(sql), execute(sql, *rest))[1]):
        client.get(endpoint.url(rng, data))
    latencies = []
    for _ in range(count):
        url = endpoint.url(rng, data)
        started = time.perf_counter()
        client.get(url)
        latencies.append(time.perf_counter() - started)
    return percentile(latencies, 0.5), percentile(latencies, 0.99), len(queries)


def floor_in_process(endpoint: Endpoint, data: dict, count: int) -> float | None:
    """p50 seconds of the endpoint's raw-SQL floor (bench/floors.py) through the same client."""
    from urllib.parse import quote

    import floors
    import floors_brapi

    if not any(getattr(module, endpoint.floor or "", None) for module in (floors, floors_brapi)):
        return None
    rng = random.Random(hash(endpoint.name))
    client = _client(data, endpoint)
    latencies = []
    for n in range(count + 5):
        url = f"/bench/floor/{endpoint.floor}?url={quote(endpoint.url(rng, data))}"
        started = time.perf_counter()
        response = client.get(url)
        if n >= 5:
            latencies.append(time.perf_counter() - started)
        elif response.status_code != 200:
            raise RuntimeError(f"floor of {endpoint.name}: {response.status_code} {response.content[:300]!r}")
    return percentile(latencies, 0.5)


def _differences(endpoint, floor, path: str = "") -> list[tuple[str, str]]:
    """(path, what differs) between two JSON values."""
    if isinstance(endpoint, dict) and isinstance(floor, dict):
        found = [] if list(endpoint) == list(floor) else [(path or ".", f"keys {list(endpoint)} / {list(floor)}")]
        return found + [d for key in endpoint if key in floor for d in _differences(endpoint[key], floor[key], f"{path}.{key}")]
    if isinstance(endpoint, list) and isinstance(floor, list):
        found = [] if len(endpoint) == len(floor) else [(path, f"{len(endpoint)} / {len(floor)} items")]
        return found + [d for n, pair in enumerate(zip(endpoint, floor)) for d in _differences(*pair, f"{path}[{n}]")]
    return [] if endpoint == floor else [(path, f"{str(endpoint)[:60]!r} / {str(floor)[:60]!r}")]


def floor_check(endpoint: Endpoint, data: dict, count: int = 5) -> str:
    """Whether the floor answers what the endpoint answers, for `count` of its URLs: "bytes"
    (the same body), "values" (the same JSON values, spelled otherwise), what it leaves out
    (`Endpoint.floor_leaves_out`, when only that differs), else the differences."""
    import json
    import re
    from urllib.parse import quote

    if endpoint.floor is None:
        return "-"
    rng = random.Random(hash(endpoint.name) + 1)
    client = _client(data, endpoint)
    verdict = "bytes"
    for _ in range(count):
        url = endpoint.url(rng, data)
        answer, floor = client.get(url).content, client.get(f"/bench/floor/{endpoint.floor}?url={quote(url)}").content
        if answer == floor:
            continue
        differences = _differences(json.loads(answer), json.loads(floor))
        if endpoint.floor_leaves_out and differences:
            pattern, _ = endpoint.floor_leaves_out
            left_out = [path for path, _ in differences if re.search(pattern, path)]
            if len(left_out) == len(differences):
                verdict = f"values but for what it leaves out: {endpoint.floor_leaves_out[1]}"
                continue
        if differences:
            return f"DIFFERS at {url}: " + "; ".join(f"{path}: {what}" for path, what in differences[:3])
        verdict = "values" if verdict == "bytes" else verdict
    return verdict


def profile(name: str, data: dict, count: int) -> None:
    from pyinstrument import Profiler

    chosen = [e for e in endpoints() if name in f"{e.name} {e.kind}"]
    for endpoint in chosen:
        rng = random.Random(1)
        client = _client(data, endpoint)
        for _ in range(5):
            client.get(endpoint.url(rng, data))
        profiler = Profiler(interval=0.0002)
        profiler.start()
        for _ in range(count):
            client.get(endpoint.url(rng, data))
        profiler.stop()
        print(f"== {endpoint.name} ({endpoint.kind}), {count} requests")
        print(profiler.output_text(unicode=False, color=False, show_all=bool(os.environ.get("PROFILE_ALL"))))


# Server ----------------------------------------------------------------------------------------


def _client_loop(port: int, key: str, urls, seconds: float, seed: int, results) -> None:
    import http.client

    rng = random.Random(seed)
    done, errors, sample = 0, 0, None
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        try:
            connection.request("GET", urls(rng), headers={"Authorization": f"Bearer {key}", "Connection": "close"})
            response = connection.getresponse()
            payload = response.read()
            if response.status != 200:
                errors += 1
                sample = sample or f"{response.status} {payload[:200]!r}"
            done += 1
        except OSError as error:
            errors += 1
            sample = sample or repr(error)
        finally:
            connection.close()
    results.put((done, errors, sample))


def throughput(port: int, key: str, urls, seconds: float, clients: int) -> tuple[float, int, str | None]:
    """Requests per second of `clients` processes asking for `urls(rng)` for `seconds`."""
    import multiprocessing

    results = multiprocessing.Queue()
    processes = [
        multiprocessing.Process(target=_client_loop, args=(port, key, urls, seconds, n, results)) for n in range(clients)
    ]
    for process in processes:
        process.start()
    done = errors = 0
    sample = None
    for _ in processes:
        part, part_errors, part_sample = results.get(timeout=seconds + 120)
        done, errors, sample = done + part, errors + part_errors, sample or part_sample
    for process in processes:
        process.join()
    return done / seconds, errors, sample


def server_start(port: int, workers: int, log_path: Path):
    from api_load import server_start as start

    env = {**os.environ, "PYTHONPATH": f"{ROOT / 'bench'}:{ROOT}"}
    return start(port=port, workers=workers, env=env, log_path=log_path)


# Run -------------------------------------------------------------------------------------------


def run(chosen: list[Endpoint], data: dict, args, database_url: str, data_dir: Path) -> None:
    from urllib.parse import quote

    from api_load import free_port, server_stop

    print(f"in-process: {args.requests} requests per endpoint; load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    account = Endpoint("account", "detail", lambda r, d: "/api/account")
    figures = {}
    unlike = []
    for endpoint in [account, *chosen]:
        p50, p99, queries = in_process(endpoint, data, args.requests)
        floor = floor_in_process(endpoint, data, args.requests)
        same = floor_check(endpoint, data)
        figures[(endpoint.name, endpoint.kind)] = [p50, p99, queries, floor]
        floor_text = f"{floor * 1000:7.2f}" if floor is not None else "      -"
        print(f"  {endpoint.name:<26} {endpoint.kind:<7} p50 {p50 * 1000:7.2f} ms  p99 {p99 * 1000:7.2f} ms  "
              f"queries {queries:2d}  floor {floor_text} ms  floor answers the same {same}", flush=True)
        if same.startswith("DIFFERS"):
            unlike.append(endpoint.name)
    if unlike:
        print(f"  floors answering otherwise than their endpoints: {', '.join(unlike)}")
    if args.no_server:
        return

    from django.db import connections

    connections.close_all()
    port = free_port()
    server = server_start(port, args.workers, data_dir / "gunicorn.log")
    try:
        print(f"\non gunicorn: {args.workers} sync workers, {args.clients} client processes, {args.phase:.0f} s per phase; "
              f"load average {os.getloadavg()[0]:.2f}", flush=True)
        throughput(port, data["key"], lambda r: "/api/account", 1.0, args.clients)  # warm-up
        print(f"  {'endpoint':<26} {'kind':<6} {'p50':>6} {'p99':>7} {'q':>3} {'floor':>6} {'req/s':>7} "
              f"{'account':>7} {'share':>6} {'floor/':>6} {'err':>4}")
        rows_out = []
        for endpoint in chosen:
            key = data["admin_key" if endpoint.admin else "key"]
            # The reference, the endpoint and its floor, one after the other: a noisy neighbour
            # lowers the three alike.
            reference, _, _ = throughput(port, data["key"], lambda r: "/api/account", args.phase, args.clients)
            rate, errors, sample = throughput(port, key, lambda r, e=endpoint: e.url(r, data), args.phase, args.clients)
            floor_rate = None
            if figures[(endpoint.name, endpoint.kind)][3] is not None:
                floor_rate, _, _ = throughput(
                    port, key, lambda r, e=endpoint: f"/bench/floor/{e.floor}?url={quote(e.url(r, data))}", args.phase, args.clients
                )
            rows_out.append((endpoint, reference, rate, floor_rate, errors, sample))
            _row_print(endpoint, figures[(endpoint.name, endpoint.kind)], reference, rate, floor_rate, errors)
        _summary(rows_out, figures)
    finally:
        server_stop(server)


def _target(kind: str) -> float:
    return TARGET_LARGE if kind == "large" else TARGET_DEFAULT


def _row_print(endpoint, figure, reference, rate, floor_rate, errors) -> None:
    p50, p99, queries, floor = figure
    share = rate / reference if reference else 0
    floor_ratio = floor_rate / rate if floor_rate and rate else None
    verdict = "ok" if share >= _target(endpoint.kind) and (floor_ratio is None or floor_ratio <= TARGET_FLOOR) else "MISSED"
    floor_text = f"{floor * 1000:6.2f}" if floor is not None else "     -"
    ratio_text = f"{floor_ratio:5.2f}x" if floor_ratio is not None else "     -"
    print(f"  {endpoint.name:<26} {endpoint.kind:<6} {p50 * 1000:6.2f} {p99 * 1000:7.2f} {queries:3d} {floor_text} "
          f"{rate:7.0f} {reference:7.0f} {share:6.0%} {ratio_text} {errors:4d}  {verdict}", flush=True)


def _summary(rows_out, figures) -> None:
    print("\n  columns: in-process p50 and p99 ms, queries per request, floor p50 ms in-process; on gunicorn: req/s, "
          "GET /api/account req/s in the same minute, share of it, floor req/s / endpoint req/s, errors")
    missed = [
        f"{e.name} ({e.kind})" for e, reference, rate, floor_rate, _, _ in rows_out
        if rate / reference < _target(e.kind) or (floor_rate and floor_rate / rate > TARGET_FLOOR)
    ]
    print(f"  targets: pages of 15 and details >= {TARGET_DEFAULT:.0%} of GET /api/account, pages of 100 >= "
          f"{TARGET_LARGE:.0%}, within {TARGET_FLOOR:.0f}x of the floor: "
          + ("all met" if not missed else f"missed by {', '.join(missed)}"))
    errors = sum(r[4] for r in rows_out)
    print(f"  errors: {errors}" + "".join(f"\n    {r[0].name}: {r[5]}" for r in rows_out if r[5]))


# Main ------------------------------------------------------------------------------------------


def environment(database_url: str, data_dir: Path) -> dict:
    return {
        "DATABASE_URL": database_url,
        "DATA_DIR": str(data_dir),
        "CELERY_TASK_ALWAYS_EAGER": "true",
        "LOG_LEVEL": "ERROR",
        "DJANGO_SETTINGS_MODULE": "virtool_site.settings",
        "ROOT_URLCONF": "bench.load_urls",
        "CONN_MAX_AGE": "60",
        "THROTTLE_WRITE_RATE": "1000000/minute",
        "THROTTLE_SEARCH_RATE": "1000000/minute",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=int(os.environ.get("BENCH_REQUESTS", 200)))
    parser.add_argument("--phase", type=float, default=float(os.environ.get("BENCH_PHASE", 3)))
    parser.add_argument("--clients", type=int, default=int(os.environ.get("BENCH_CLIENTS", 4)))
    parser.add_argument("--workers", type=int, default=int(os.environ.get("BENCH_WORKERS", 2)))
    parser.add_argument("--only", action="append", default=[])
    parser.add_argument("--keep", action="store_true", help="keep the database (for --reuse)")
    parser.add_argument("--reuse", action="store_true", help="use the database a --keep run left")
    parser.add_argument("--profile", help="profile the endpoints whose name contains this, in-process")
    parser.add_argument("--no-server", action="store_true", help="in-process figures only")
    parser.add_argument("path", nargs="?", default=str(DEFAULT_FILE))
    args = parser.parse_args()

    keep = args.keep or args.reuse
    data_dir = Path(tempfile.gettempdir()) / f"{BENCH_DB}-data"
    database_url = with_database(server_url(), BENCH_DB)
    os.environ.pop("REDIS_URL", None)
    os.environ.update(environment(database_url, data_dir))
    sys.path.insert(0, str(ROOT / "bench"))
    server = None
    try:
        if not args.reuse:
            admin_execute(f'DROP DATABASE IF EXISTS "{BENCH_DB}" WITH (FORCE)')
            admin_execute(f'CREATE DATABASE "{BENCH_DB}"')
            shutil.rmtree(data_dir, ignore_errors=True)
            data_dir.mkdir(parents=True)
            setup_data(Path(args.path))
            vacuum_analyze()
        import django

        django.setup()
        data = bench_keys()
        if args.profile:
            profile(args.profile, data, args.requests)
            return
        chosen = [e for e in endpoints() if not args.only or any(o in e.name for o in args.only)]
        run(chosen, data, args, database_url, data_dir)
    finally:
        if server is not None:
            server.terminate()
        from django.db import connections

        connections.close_all()
        if not keep:
            admin_execute(f'DROP DATABASE IF EXISTS "{BENCH_DB}" WITH (FORCE)')
            shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
