"""Faults of the services the API depends on: PostgreSQL restarted under load, Redis (broker
and rate-limit cache) down, a broker lost between a request's check and its commit.

The live tests run the application as in production, gunicorn subprocesses, against a
PostgreSQL cluster and a Redis server of their own (initdb / redis-server on free ports,
started and stopped by the test), so the shared services on 5432 and 6379 are never touched.
Workers killed in the middle of a task: refs/tests/test_faults_delete.py (deletion),
indexes/tests/test_faults_build.py (index build, its bowtie2-build dying with the worker),
refs/tests/test_transfer_worker.py (import), refs/tests/test_worker_recovery.py (a worker
killed whole: its import taken over within the visibility timeout; a long import of a live
worker never taken from it).
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
import requests

from analyses.models import NuVsBlast, Workflow
from analyses.tests.factories import AnalysisFactory, SampleFactory, nuvs_results
from history.models import Change
from indexes.models import Index
from indexes.tests.factories import otu_create
from refs.models import Reference
from virtool_site.testing import free_port
from refs.tests.factories import OTUFactory, ReferenceFactory
from virtool_site.api import throttling
from virtool_site.celery import app as celery_app
from virtool_site.models import Job, Process, Upload

ROOT = Path(__file__).resolve().parents[2]
PG_BIN = Path(os.environ.get("PG_BIN", "/usr/lib/postgresql/15/bin"))
TASK_QUEUE_DOWN = {"id": "service_unavailable", "message": "Task queue unavailable"}


def service_missing(reason: str):
    if os.environ.get("REQUIRE_SERVICES") == "1":
        pytest.fail(f"required service unavailable: {reason}")
    pytest.skip(f"service unavailable: {reason}")


# Private services --------------------------------------------------------------------------


def dies_with_test(command: list[str], signal_name: str) -> list[str]:
    """`command`, sent `signal_name` should the test process die (pytest killed by a CI
    timeout), so no server outlives its test. setpriv (util-linux) sets the parent-death
    signal and execs the command itself."""
    if shutil.which("setpriv") is None:
        return command
    return ["setpriv", "--pdeathsig", signal_name, "--", *command]


class PrivatePostgres:
    """A PostgreSQL cluster of this test's own (initdb in a temporary directory, a free port),
    run as the `postgres` OS user when the tests run as root (PostgreSQL refuses root). The
    postmaster is a child of the test process (not daemonized by pg_ctl), so it dies with it."""

    def __init__(self):
        if not (PG_BIN / "initdb").exists():
            service_missing(f"no initdb in {PG_BIN} (set PG_BIN)")
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="vs-faults-pg-"))
        self.as_postgres = os.geteuid() == 0
        if self.as_postgres:
            shutil.chown(self.root, "postgres", "postgres")
        self.data = self.root / "data"
        self.log_path = self.root / "postgres.log"
        self.process = None
        try:
            self.run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "--no-sync", "-E", "UTF8")
            self.start()
        except BaseException:
            self.destroy()
            raise

    def run(self, program: str, *args: str) -> None:
        command = [str(PG_BIN / program), *args]
        if self.as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=120, cwd=self.root)

    def start(self) -> None:
        import psycopg2

        command = [
            str(PG_BIN / "postgres"), "-D", str(self.data), "-p", str(self.port), "-k", str(self.root),
            "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "max_connections=60",
        ]
        if self.as_postgres and shutil.which("setpriv"):
            # Change user first: a change of user clears the parent-death signal set before it.
            # SIGQUIT (immediate shutdown) should the test process die.
            command = ["setpriv", "--reuid", "postgres", "--regid", "postgres", "--init-groups",
                       "--pdeathsig", "QUIT", "--", *command]
        elif self.as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        else:
            command = dies_with_test(command, "QUIT")
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=self.root)
        deadline = time.monotonic() + 60
        while True:
            try:
                psycopg2.connect(host="127.0.0.1", port=self.port, user="postgres", dbname="postgres").close()
                return
            except psycopg2.OperationalError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    raise RuntimeError(f"postgres did not start:\n{self.log_path.read_text()}") from None
                time.sleep(0.05)

    def stop(self, mode: str = "fast") -> None:
        """Shut down as `pg_ctl stop -m fast|immediate` does: SIGINT or SIGQUIT."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGINT if mode == "fast" else signal.SIGQUIT)
        self.process.wait(timeout=60)

    def url(self, database: str) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    def destroy(self) -> None:
        try:
            self.stop("immediate")
        except subprocess.TimeoutExpired:
            self.process.kill()
        shutil.rmtree(self.root, ignore_errors=True)


class PrivateRedis:
    """A redis-server of this test's own on a free port, without persistence."""

    def __init__(self, root: Path):
        if shutil.which("redis-server") is None:
            service_missing("redis-server is not installed")
        self.port = free_port()
        self.root = root
        self.process = None
        self.start()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            dies_with_test(
                ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                 "--dir", str(self.root)],
                "KILL",
            ),
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        import redis

        client = redis.Redis(port=self.port, socket_connect_timeout=0.5)
        deadline = time.monotonic() + 20
        while True:
            try:
                client.ping()
                return
            except redis.ConnectionError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    raise RuntimeError("redis-server did not start") from None
                time.sleep(0.05)

    def kill(self) -> None:
        """SIGKILL, as when the Redis host dies."""
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=20)


def app_env(*, database_url: str, data_dir: Path, redis_url: str | None = None, **extra) -> dict:
    """The environment of the application's processes (no shared service leaks in)."""
    env = {
        k: v for k, v in os.environ.items()
        if k not in ("DATABASE_URL", "REDIS_URL", "CELERY_TASK_ALWAYS_EAGER", "PYTEST_CURRENT_TEST")
    }
    env.update(
        DATABASE_URL=database_url, DATA_DIR=str(data_dir), DJANGO_SETTINGS_MODULE="virtool_site.settings",
        SECRET_KEY="faults-test-secret-key", LOG_LEVEL="ERROR", PYTHONUNBUFFERED="1",
    )
    if redis_url:
        env["REDIS_URL"] = redis_url
    env.update({k: str(v) for k, v in extra.items()})
    return env


def manage(env: dict, *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


class Gunicorn:
    """The application served by gunicorn (sync workers) on a free port of 127.0.0.1."""

    def __init__(self, env: dict, log_path: Path, workers: int = 2):
        self.port = free_port()
        self.log_path = log_path
        self._log = open(log_path, "wb")
        self.process = subprocess.Popen(
            dies_with_test(
                [sys.executable, "-m", "gunicorn", "virtool_site.wsgi:application", "--bind", f"127.0.0.1:{self.port}",
                 "--workers", str(workers), "--timeout", "60", "--graceful-timeout", "5", "--log-level", "warning"],
                "TERM",
            ),
            cwd=ROOT, env=env, stdout=self._log, stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                requests.get(self.url("/api/health"), timeout=10)
                return
            except requests.RequestException:  # not listening yet, or slow to answer on a busy machine
                if time.monotonic() > deadline or self.process.poll() is not None:
                    raise RuntimeError(f"gunicorn did not start:\n{self.log()}") from None
                time.sleep(0.1)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def log(self) -> str:
        if not self._log.closed:
            self._log.flush()
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()


@pytest.fixture(scope="module")
def private_postgres():
    """A private cluster with a migrated database and an administrator's API key."""
    postgres = PrivatePostgres()
    try:
        postgres.run("createdb", "-h", "127.0.0.1", "-p", str(postgres.port), "-U", "postgres", "virtool")
        env = app_env(database_url=postgres.url("virtool"), data_dir=postgres.root)
        manage(env, "migrate", "--verbosity", "0")
        output = manage(
            env, "shell", "-c",
            "from virtool_site.models import User\n"
            "from virtool_site.services import api_key_create\n"
            "user = User.objects.create(username='operator', is_superuser=True, is_staff=True)\n"
            "print(api_key_create(user=user, name='faults')[1])\n",
        )
        postgres.key = output.strip().splitlines()[-1]
        yield postgres
    finally:
        postgres.destroy()


def api_session(key: str) -> requests.Session:
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {key}"
    return session


def reference_with_otus(server: Gunicorn, session: requests.Session, count: int) -> tuple[str, list[str]]:
    """A reference and `count` verified OTUs (one isolate, one sequence each), via the API."""
    response = session.post(server.url("/api/refs"), json={"name": f"Faults {time.monotonic_ns()}"}, timeout=30)
    assert response.status_code == 201, response.text
    reference_id = response.json()["id"]
    otu_ids = []
    for number in range(count):
        response = session.post(
            server.url(f"/api/refs/{reference_id}/otus"),
            json={"name": f"Fault virus {number}", "abbreviation": f"FV{number}"}, timeout=30,
        )
        assert response.status_code == 201, response.text
        otu_id = response.json()["id"]
        response = session.post(
            server.url(f"/api/otus/{otu_id}/isolates"),
            json={"source_type": "isolate", "source_name": f"I{number}", "default": True}, timeout=30,
        )
        assert response.status_code == 201, response.text
        isolate_id = response.json()["id"]
        response = session.post(
            server.url(f"/api/otus/{otu_id}/isolates/{isolate_id}/sequences"),
            json={"accession": f"FV{number:05d}", "definition": "Fault virus segment", "host": "Tobacco",
                  "sequence": "ACGTTGCA" * 40},
            timeout=30,
        )
        assert response.status_code == 201, response.text
        otu_ids.append(otu_id)
    return reference_id, otu_ids


def clean_error(response: requests.Response) -> bool:
    """A 503 in the API's error format (BrAPI's: a JSON string)."""
    if response.status_code != 503:
        return False
    try:
        body = response.json()
    except ValueError:
        return False
    if response.url.split("/", 3)[3].startswith("brapi/"):
        return isinstance(body, str) and bool(body)
    return isinstance(body, dict) and body.get("id") == "service_unavailable" and bool(body.get("message"))


# PostgreSQL restarted under load ------------------------------------------------------------


@pytest.mark.slow
def test_requests_during_a_postgresql_restart_fail_cleanly_with_503_and_recover(private_postgres, data_dir):
    postgres = private_postgres
    # Persistent connections (CONN_MAX_AGE) are the case to get right: each gunicorn worker
    # holds one across the restart and must notice it is dead (CONN_HEALTH_CHECKS).
    # Rate limits are not what is tested: clients retry through the outage as fast as they can.
    env = app_env(
        database_url=postgres.url("virtool"), data_dir=data_dir, CONN_MAX_AGE=60,
        THROTTLE_SEARCH_RATE="100000/minute", THROTTLE_WRITE_RATE="100000/minute",
    )
    server = Gunicorn(env, data_dir / "gunicorn-postgres.log")
    try:
        session = api_session(postgres.key)
        reference_id, otu_ids = reference_with_otus(server, session, 4)

        stop = threading.Event()
        results: list[tuple[str, str, int, bool]] = []  # (phase, path, status, clean)
        edits = {otu_id: {"ok": 0, "failed": 0} for otu_id in otu_ids}
        phase = {"now": "before"}
        unexpected: list[str] = []

        def client(otu_id: str):
            session = api_session(postgres.key)
            number = 0
            while not stop.is_set():
                number += 1
                calls = [
                    ("GET", "/api/refs", None),
                    ("GET", f"/api/refs/{reference_id}/otus?term=fault&per_page=10", None),
                    ("GET", f"/api/otus/{otu_id}", None),
                    ("PATCH", f"/api/otus/{otu_id}", {"abbreviation": f"E{number}-{otu_id[:3]}"}),
                    ("GET", "/brapi/v2/referencesets", None),
                    ("GET", f"/api/otus/{otu_id}/history", None),
                ]
                for method, path, body in calls:
                    try:
                        response = session.request(method, server.url(path), json=body, timeout=30)
                    except requests.RequestException as error:
                        unexpected.append(f"{method} {path}: {type(error).__name__}: {error}")
                        continue
                    ok = 200 <= response.status_code < 300
                    clean = clean_error(response)
                    results.append((phase["now"], path, response.status_code, ok or clean))
                    if not (ok or clean):
                        unexpected.append(f"{method} {path}: {response.status_code} {response.text[:300]}")
                    if method == "PATCH":
                        edits[otu_id]["ok" if ok else "failed"] += 1

        threads = [threading.Thread(target=client, args=(otu_id,)) for otu_id in otu_ids]
        for thread in threads:
            thread.start()
        time.sleep(1.5)
        phase["now"] = "down"
        postgres.stop("fast")
        time.sleep(2.0)  # requests keep coming while the database is away
        postgres.start()
        phase["now"] = "after"
        time.sleep(3.0)
        stop.set()
        for thread in threads:
            thread.join(timeout=60)

        statuses = Counter((p, s) for p, _, s, _ in results)
        print("responses by phase and status:", dict(statuses))
        assert not unexpected, unexpected[:10]
        assert all(clean for *_, clean in results)
        assert any(p == "before" and s == 200 for p, _, s, _ in results)
        assert any(s == 503 for _, _, s, _ in results), "no request met the database down"
        # Recovered: everything succeeds again, on every endpoint and both workers.
        assert any(p == "after" and s == 200 for p, _, s, _ in results)
        for _ in range(10):
            for path in ("/api/refs", f"/api/otus/{otu_ids[0]}", "/brapi/v2/referencesets", "/api/health"):
                response = session.get(server.url(path), timeout=30)
                assert response.status_code == 200, (path, response.status_code, response.text[:300])
        # Nothing half-written: each OTU's version counts its edits and has one change per
        # version (an edit answered 503 may or may not have committed, never in part).
        for otu_id, count in edits.items():
            otu = session.get(server.url(f"/api/otus/{otu_id}"), timeout=30).json()
            history = session.get(server.url(f"/api/otus/{otu_id}/history"), timeout=30).json()
            edited = otu["version"] - 2  # created, then isolate and sequence added
            assert count["ok"] <= edited <= count["ok"] + count["failed"], (otu_id, otu["version"], count)
            assert len(history) == otu["version"] + 1
    finally:
        server.stop()
        print(server.log()[-3000:])


# Redis down ----------------------------------------------------------------------------------


@pytest.mark.slow
def test_with_redis_down_reads_and_plain_writes_work_and_writes_needing_a_task_are_503(
    private_postgres, data_dir, tmp_path
):
    redis_server = PrivateRedis(tmp_path)
    env = app_env(database_url=private_postgres.url("virtool"), data_dir=data_dir, redis_url=redis_server.url)
    server = Gunicorn(env, data_dir / "gunicorn-redis.log")
    try:
        session = api_session(private_postgres.key)
        reference_id, (otu_id,) = reference_with_otus(server, session, 1)
        total = session.get(server.url("/api/refs"), timeout=30).json()["total_count"]
        redis_server.kill()

        health = session.get(server.url("/api/health"), timeout=30)
        assert health.status_code == 503 and health.json()["redis"].startswith("error")
        # Reads.
        for path in (
            "/api/refs", f"/api/refs/{reference_id}", f"/api/refs/{reference_id}/otus?term=fault",
            f"/api/otus/{otu_id}", "/api/processes", "/brapi/v2/referencesets",
        ):
            response = session.get(server.url(path), timeout=30)
            assert response.status_code == 200, (path, response.status_code, response.text[:300])
        # Writes that need no task: the rate limits fail open.
        response = session.patch(server.url(f"/api/otus/{otu_id}"), json={"abbreviation": "DOWN"}, timeout=30)
        assert response.status_code == 200, response.text
        assert session.post(server.url("/brapi/v2/search/references"), json={}, timeout=30).status_code == 200

        # Writes that need a task: 503 at once, and nothing is left behind.
        started = time.monotonic()
        response = session.post(server.url(f"/api/refs/{reference_id}/indexes"), timeout=30)
        assert (response.status_code, response.json()) == (503, TASK_QUEUE_DOWN)
        response = session.delete(server.url(f"/api/refs/{reference_id}"), timeout=30)
        assert (response.status_code, response.json()) == (503, TASK_QUEUE_DOWN)
        response = session.post(server.url("/api/refs"), json={"name": "Copy", "clone_from": reference_id}, timeout=30)
        assert (response.status_code, response.json()) == (503, TASK_QUEUE_DOWN)
        assert time.monotonic() - started < 10
        assert session.get(server.url(f"/api/refs/{reference_id}"), timeout=30).status_code == 200
        assert session.get(server.url("/api/refs"), timeout=30).json()["total_count"] == total
        assert session.get(server.url(f"/api/refs/{reference_id}/indexes"), timeout=30).json()["documents"] == []
        assert session.get(server.url("/api/processes"), timeout=30).json() == []

        # Redis back: the same requests are accepted.
        redis_server.start()
        response = session.post(server.url(f"/api/refs/{reference_id}/indexes"), timeout=30)
        assert response.status_code == 201, response.text
        response = session.delete(server.url(f"/api/refs/{reference_id}"), timeout=30)
        assert response.status_code == 202, response.text
        assert session.get(server.url("/api/health"), timeout=30).status_code == 200
    finally:
        server.stop()
        redis_server.kill()
        print(server.log()[-3000:])


# The same, in-process: every call site, and the rate limits -----------------------------------


@pytest.fixture
def broker_down():
    """Tasks go to a broker that does not answer (a closed port)."""
    conf = celery_app.conf
    previous = conf.task_always_eager, conf.broker_url
    conf.task_always_eager, conf.broker_url = False, f"redis://127.0.0.1:{free_port()}/0"
    yield
    conf.task_always_eager, conf.broker_url = previous


@pytest.fixture
def owner(user_factory):
    return user_factory(username="owner", create_ref=True, upload_file=True, create_sample=True)


@pytest.mark.django_db
class TestBrokerDown:
    def test_deleting_a_reference_is_503_and_leaves_it_visible(self, broker_down, owner, client_for):
        reference = ReferenceFactory(user=owner)
        response = client_for(owner).delete(f"/api/refs/{reference.id}")
        assert (response.status_code, response.json()) == (503, TASK_QUEUE_DOWN)
        assert not Reference.all_objects.get(id=reference.id).deleted
        assert not Process.objects.exists()

    def test_building_an_index_is_503_and_creates_no_index_or_job(self, broker_down, owner, client_for):
        reference = ReferenceFactory(user=owner)
        otu_create(reference, user=owner)
        response = client_for(owner).post(f"/api/refs/{reference.id}/indexes")
        assert (response.status_code, response.json()) == (503, TASK_QUEUE_DOWN)
        assert not Index.objects.exists() and not Job.objects.exists()
        assert not Change.objects.filter(index__isnull=False).exists()

    def test_cloning_is_503_and_creates_no_reference(self, broker_down, owner, client_for):
        source = ReferenceFactory(user=owner)
        OTUFactory(reference=source)
        response = client_for(owner).post("/api/refs", {"name": "Copy", "clone_from": source.id}, format="json")
        assert (response.status_code, response.json()) == (503, TASK_QUEUE_DOWN)
        assert list(Reference.all_objects.values_list("id", flat=True)) == [source.id]
        assert not Process.objects.exists()

    def test_importing_is_503_and_leaves_the_upload_unreserved(self, broker_down, owner, client_for, data_dir):
        import gzip

        from virtool_site.storage import stored_save_path

        # A stored gzip file: the request reads its first bytes before it needs the queue.
        path = data_dir / "ref.json.gz"
        path.write_bytes(gzip.compress(b'{"otus": []}'))
        stored_save_path("uploads/abcdefgh-ref.json.gz", path)
        upload = Upload.objects.create(id="abcdefgh-ref.json.gz", name="ref.json.gz", type="reference",
                                       user=owner, ready=True, size=10)
        response = client_for(owner).post(
            "/api/refs", {"name": "Imported", "import_from": upload.id}, format="json"
        )
        assert (response.status_code, response.json()) == (503, TASK_QUEUE_DOWN)
        assert not Reference.all_objects.exists()
        upload.refresh_from_db()
        assert not upload.reserved

    def test_blast_is_503_and_stores_no_blast(self, broker_down, owner, client_for):
        analysis = AnalysisFactory(
            sample=SampleFactory(user=owner), workflow=Workflow.NUVS, ready=True, results=nuvs_results(["ACGT" * 50])
        )
        response = client_for(owner).put(f"/api/analyses/{analysis.id}/0/blast", {}, format="json")
        assert (response.status_code, response.json()) == (503, TASK_QUEUE_DOWN)
        assert not NuVsBlast.objects.exists()

    def test_a_write_that_needs_no_task_succeeds(self, broker_down, owner, client_for):
        otu = OTUFactory(reference=ReferenceFactory(user=owner), abbreviation="A")
        response = client_for(owner).patch(f"/api/otus/{otu.id}", {"abbreviation": "B"}, format="json")
        assert response.status_code == 200 and response.json()["abbreviation"] == "B"


def _celery_pools_reset():
    """Forget every broker connection and producer pool, Celery's and kombu's global ones, so
    that later tests do not draw from a pool closed here ("Acquire on closed pool")."""
    from kombu import pools

    if celery_app._pool is not None:
        celery_app._pool.force_close_all()
    celery_app._pool = None
    celery_app.amqp._producer_pool = None
    pools.reset()


@pytest.mark.django_db
def test_a_broker_lost_between_the_check_and_the_commit_fails_the_process_and_the_build(
    owner, client_for, tmp_path, django_capture_on_commit_callbacks
):
    """The check passes, Redis dies before the transaction commits: the publication fails
    after the commit, and what waited for the task says so instead of waiting forever."""
    redis_server = PrivateRedis(tmp_path)
    conf = celery_app.conf
    previous = conf.task_always_eager, conf.broker_url
    conf.task_always_eager, conf.broker_url = False, redis_server.url
    _celery_pools_reset()
    try:
        reference = ReferenceFactory(user=owner)
        otu_create(reference, user=owner)
        client = client_for(owner)
        with django_capture_on_commit_callbacks() as callbacks:
            build = client.post(f"/api/refs/{reference.id}/indexes")
        assert build.status_code == 201
        with django_capture_on_commit_callbacks() as more:
            deletion = client.delete(f"/api/refs/{reference.id}")
        assert deletion.status_code == 202
        redis_server.kill()
        for callback in [*callbacks, *more]:
            callback()  # the commits' callbacks: publishing now fails
    finally:
        conf.task_always_eager, conf.broker_url = previous
        _celery_pools_reset()
        redis_server.kill()

    process = Process.objects.get(id=deletion.json()["id"])
    assert process.complete
    assert process.error == {"id": "task_queue_unavailable", "message": "Task queue unavailable"}
    job = Job.objects.get(id=build.json()["job"]["id"])
    assert job.state == Job.State.ERROR and job.error["message"] == "Task queue unavailable"
    assert not Index.objects.filter(id=build.json()["id"]).exists()
    assert not Change.objects.filter(index__isnull=False).exists()


# Rate limits with the cache down ---------------------------------------------------------------


@pytest.fixture
def cache_down(settings, monkeypatch):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{free_port()}/0",
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }
    monkeypatch.setattr(throttling, "_last_warnings", {})


@pytest.mark.django_db
def test_rate_limits_fail_open_with_a_warning_when_the_cache_is_unreachable(
    cache_down, user_client, settings, caplog
):
    settings.THROTTLE_RATES = {"write": "1/minute", "search": "1/minute"}
    statuses = [user_client.post("/api/account/keys", {"name": f"k{n}"}, format="json").status_code for n in range(3)]
    assert statuses == [201, 201, 201]
    statuses = [user_client.post("/brapi/v2/search/references", {}, format="json").status_code for _ in range(2)]
    assert statuses == [200, 200]
    assert "rate limit write not applied, cache unavailable: ConnectionError" in caplog.text


@pytest.mark.django_db
def test_database_errors_render_as_503_in_both_api_formats(rf):
    """The exception handler (Virtool API) and the middleware (views outside DRF's handler,
    BrAPI) give a database error the API's 503, with Retry-After."""
    from django.db import InterfaceError, OperationalError

    from virtool_site.api.exceptions import exception_handler
    from virtool_site.middleware import DatabaseUnavailableMiddleware

    response = exception_handler(OperationalError("could not connect to server"), {})
    assert response.status_code == 503 and response["Retry-After"] == "5"
    assert response.data == {"id": "service_unavailable", "message": "Database unavailable"}
    middleware = DatabaseUnavailableMiddleware(lambda request: None)
    response = middleware.process_exception(rf.get("/brapi/v2/references"), InterfaceError("connection already closed"))
    assert response.status_code == 503 and json.loads(response.content) == "Database unavailable"
    response = middleware.process_exception(rf.get("/api/refs"), OperationalError("the database system is starting up"))
    assert json.loads(response.content) == {"id": "service_unavailable", "message": "Database unavailable"}
    assert middleware.process_exception(rf.get("/admin/"), OperationalError("x")) is None
    assert middleware.process_exception(rf.get("/api/refs"), ValueError("x")) is None
