"""Fixtures shared by every app's tests.

Services: tests run on the DATABASE_URL database (PostgreSQL in CI) and, where a test asks for
`celery_worker`, against a real Redis and a real `celery worker` process. When a service is
missing such a test is skipped, unless REQUIRE_SERVICES=1 (CI), where it fails instead.
"""

import os
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from rest_framework.test import APIClient

from virtool_site.celery import app as celery_app
from virtool_site.storage_testing import s3_server, s3_storage, s3_unreachable, storage_backend  # noqa: F401 (fixtures)
from virtool_site.testing import CeleryWorkerProcess, wait_for  # noqa: F401 (re-exported)

ROOT = Path(__file__).resolve().parent
REAL_REFERENCE = ROOT.parent / "shared" / "data" / "ref-plant-viruses.json.gz"


def service_missing(reason: str):
    """Skip for a missing service, or fail where services are required (CI)."""
    if os.environ.get("REQUIRE_SERVICES") == "1":
        pytest.fail(f"required service unavailable: {reason}")
    pytest.skip(f"service unavailable: {reason}")


@pytest.fixture
def needs_postgresql():
    """Tests of concurrency between connections (row locks, advisory locks): PostgreSQL only."""
    from django.db import connection

    if connection.vendor != "postgresql":
        service_missing("concurrency between connections needs PostgreSQL (set DATABASE_URL)")


@pytest.fixture(autouse=True)
def data_dir(settings, tmp_path):
    """Every test writes its files under its own DATA_DIR."""
    path = tmp_path / "data"
    path.mkdir()
    settings.DATA_DIR = path
    return path


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    """UserFactory sets passwords; PBKDF2 would dominate the suite's run time."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Rate-limit counters and cached values never leak from one test into another."""
    from django.core.cache import caches

    caches["default"].clear()
    yield


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """The test database, with the revision guard's triggers on PostgreSQL (refs.testing)."""
    from refs.testing import revision_guard_install

    with django_db_blocker.unblock():
        revision_guard_install()


@pytest.fixture(autouse=True)
def _revision_guard(settings):
    """Every request a test client makes is answered under the revision guard (refs.testing)."""
    settings.MIDDLEWARE = [*settings.MIDDLEWARE, "refs.testing.RevisionGuardMiddleware"]


@pytest.fixture(autouse=True)
def _tasks_run_in_process():
    """Tasks run eagerly unless a test starts a real worker."""
    previous = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = previous


@pytest.fixture
def wsgi_keeps_test_connection():
    """Like Django's test client: the WSGI handler (schemathesis calls it directly) must not
    close the test's DB connection."""
    from django.core.signals import request_finished, request_started
    from django.db import close_old_connections

    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def real_reference_path():
    if not REAL_REFERENCE.exists():
        pytest.fail(f"missing {REAL_REFERENCE}")
    return REAL_REFERENCE


@pytest.fixture
def api_client():
    return APIClient()


@pytest.fixture
def user_factory(db):
    from virtool_site.tests.factories import UserFactory

    return UserFactory


@pytest.fixture
def user(user_factory):
    return user_factory()


@pytest.fixture
def admin_user(user_factory):
    return user_factory(is_superuser=True, is_staff=True, username="administrator")


@pytest.fixture
def client_for():
    """An APIClient signed in as the given user (None: anonymous)."""

    def make(user):
        client = APIClient()
        if user is not None:
            client.force_authenticate(user=user)
        return client

    return make


@pytest.fixture
def user_client(client_for, user):
    return client_for(user)


@pytest.fixture
def admin_client(client_for, admin_user):
    return client_for(admin_user)


def _route_tasks_to(queue: str | None):
    """Every task to `queue`; None: back to the routes of the settings (builds vs default)."""
    celery_app.conf.task_routes = {"*": {"queue": queue}} if queue else django_settings.CELERY_TASK_ROUTES
    celery_app.amqp.flush_routes()
    celery_app.amqp.__dict__.pop("router", None)


@pytest.fixture
def celery_worker_factory(transactional_db, data_dir):
    """Start real worker processes: `start(**env)` returns a CeleryWorkerProcess.

    Tasks queued by the test are routed to the newest worker's queue; `start(queue=dead.queue)`
    brings a worker back on a killed worker's queue.
    """
    from django.db import connection

    if connection.vendor != "postgresql":
        service_missing("a real Celery worker needs PostgreSQL (set DATABASE_URL)")
    if not django_settings.REDIS_URL:
        service_missing("a real Celery worker needs Redis (set REDIS_URL)")
    db = connection.settings_dict
    database_url = (
        f"postgres://{db['USER'] or 'postgres'}:{db['PASSWORD'] or ''}@{db['HOST'] or '127.0.0.1'}:"
        f"{db['PORT'] or 5432}/{db['NAME']}"
    )
    workers = []

    def start(extra_env: dict | None = None, pool: str = "solo", queue: str | None = None) -> CeleryWorkerProcess:
        worker = CeleryWorkerProcess(
            database_url=database_url, data_dir=data_dir, extra_env=extra_env, pool=pool, queue=queue
        )
        workers.append(worker)
        _route_tasks_to(worker.queue)
        celery_app.conf.task_always_eager = False
        return worker

    yield start
    for worker in workers:
        worker.stop()
    _route_tasks_to(None)
    celery_app.conf.task_always_eager = True


@pytest.fixture
def celery_worker(celery_worker_factory):
    return celery_worker_factory()
