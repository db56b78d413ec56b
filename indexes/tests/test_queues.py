"""Celery routing with real workers: CPU-heavy tasks (index builds, local BLAST) go to the builds
queue and everything else to the default queue, so a compute node runs `worker -Q builds`.

Two workers on queues of this test's own stand for the default and the builds queue; the test
process and both workers route with the settings' routes (CELERY_TASK_ROUTES), only the queue
names (CELERY_TASK_DEFAULT_QUEUE, CELERY_BUILDS_QUEUE) changed.
"""

import uuid

import pytest
from django.conf import settings
from django.core.management import call_command

from analyses.models import NuVsBlast, Workflow
from analyses.tests.factories import AnalysisFactory, SampleFactory, nuvs_results
from indexes.models import Index
from virtool_site.celery import app as celery_app
from virtool_site.models import Job, Process
from virtool_site.services import process_create
from virtool_site.tasks import process_touch
from virtool_site.testing import wait_for

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def routes_for(*, default: str, builds: str) -> dict:
    """The settings' routes with this test's queue names."""
    routes = {
        name: {"queue": builds if route["queue"] == settings.CELERY_BUILDS_QUEUE else route["queue"]}
        for name, route in settings.CELERY_TASK_ROUTES.items()
    }
    return {**routes, "*": {"queue": default}}


def route_with(routes: dict) -> None:
    celery_app.conf.task_routes = routes
    celery_app.amqp.flush_routes()
    celery_app.amqp.__dict__.pop("router", None)


def received(worker, task_name: str) -> bool:
    return f"Task {task_name}[" in worker.log()


@pytest.fixture
def two_queues(celery_worker_factory):
    names = {"default": f"test-default-{uuid.uuid4().hex[:8]}", "builds": f"test-builds-{uuid.uuid4().hex[:8]}"}
    env = {"CELERY_TASK_DEFAULT_QUEUE": names["default"], "CELERY_BUILDS_QUEUE": names["builds"]}
    default = celery_worker_factory(env, queue=names["default"])
    builds = celery_worker_factory(env, queue=names["builds"])
    route_with(routes_for(**names))
    return default, builds


def test_the_routes_send_cpu_heavy_tasks_to_builds_and_the_rest_to_default():
    routes = settings.CELERY_TASK_ROUTES
    assert {name for name, route in routes.items() if route["queue"] == settings.CELERY_BUILDS_QUEUE} == {
        "indexes.build_index", "analyses.blast_run",
    }
    route_with(routes)
    try:
        router = celery_app.amqp.router
        for name in ("indexes.build_index", "analyses.blast_run"):
            assert router.route({}, name)["queue"].name == "builds"
        for name in ("analyses.blast_ncbi_run", "refs.import_reference", "refs.delete_reference",
                     "brapi.referenceset_publish_index", "virtool_site.process_touch", "virtool_site.storage_sweep"):
            assert router.route({}, name)["queue"].name == settings.CELERY_TASK_DEFAULT_QUEUE
    finally:
        route_with(settings.CELERY_TASK_ROUTES)


def test_a_build_runs_on_the_builds_worker_and_its_publication_on_the_default_worker(
    two_queues, user_client, built_reference
):
    default, builds = two_queues
    response = user_client.post(f"/api/refs/{built_reference.id}/indexes")
    assert response.status_code == 201, response.content
    body = response.json()

    def finished():
        job = Job.objects.get(id=body["job"]["id"])
        return job if job.finished else None

    job = wait_for(finished, timeout=120, message="the build", log=builds.log)
    assert job.state == Job.State.COMPLETE, job.error
    assert Index.objects.get(id=body["id"]).ready
    assert received(builds, "indexes.build_index")
    assert not received(default, "indexes.build_index")
    # The builds worker queues the BrAPI publication of the new index: the default queue's.
    wait_for(lambda: received(default, "brapi.referenceset_publish_index"), timeout=60,
             message="the publication on the default worker", log=default.log)
    assert not received(builds, "brapi.referenceset_publish_index")

    process = process_create(process_type="probe", steps=["one"])
    process_touch.delay(process.id)
    wait_for(lambda: Process.objects.get(id=process.id).complete, timeout=60, message="the probe", log=default.log)
    assert received(default, "virtool_site.process_touch") and not received(builds, "virtool_site.process_touch")


def test_a_local_blast_runs_on_the_builds_worker(two_queues, client_for, user_factory, built_reference):
    default, builds = two_queues
    owner = user_factory(create_sample=True)
    call_command("build_blast_db", stdout=open("/dev/null", "w"))
    contig = built_reference.otus.first().isolates.first().sequences.first().sequence[20:200]
    nuvs = AnalysisFactory(sample=SampleFactory(user=owner), workflow=Workflow.NUVS, ready=True,
                           results=nuvs_results([contig]))
    assert client_for(owner).put(f"/api/analyses/{nuvs.id}/0/blast", {}, format="json").status_code == 200
    wait_for(lambda: NuVsBlast.objects.get(analysis=nuvs).ready, timeout=60, message="the BLAST", log=builds.log)
    assert received(builds, "analyses.blast_run") and not received(default, "analyses.blast_run")


def test_the_schema_documents_503_for_starting_a_build_and_a_blast():
    """Both answer 503 "Task queue unavailable" when the broker is down (test_faults.py)."""
    from drf_spectacular.generators import SchemaGenerator

    paths = SchemaGenerator().get_schema(request=None, public=True)["paths"]
    assert "503" in paths["/api/refs/{ref_id}/indexes"]["post"]["responses"]
    assert "503" in paths["/api/analyses/{analysis_id}/{sequence_index}/blast"]["put"]["responses"]
