"""A worker killed whole mid-import: its import is taken over by another worker within the
visibility timeout, seconds rather than the hour it used to be; and a long import on a live
worker is never taken from it, however many visibility timeouts it runs for (the heartbeat
of virtool_site.celery). Real Redis, real `celery worker` processes."""

import re
import time

import pytest
import redis
from django.conf import settings

from history.models import Change
from refs.models import OTU, Isolate, Sequence
from refs.tests.transfer_factories import file_otu, reference_file
from virtool_site.models import Process
from virtool_site.testing import wait_for

pytestmark = [pytest.mark.slow, pytest.mark.worker]

#: Worker settings that make the timings of a test short: production has a visibility timeout
#: of 60 s, a heartbeat every 10 s and a sweep every 5 s.
QUICK = {
    "CELERY_VISIBILITY_TIMEOUT": "2",
    "CELERY_UNACKED_HEARTBEAT_SECONDS": "0.25",
    "CELERY_UNACKED_RESTORE_INTERVAL": "1",
    "CELERY_UNACKED_RESTORE_THROTTLE": "1",
}
#: The shortest visibility timeout there is, so that any import outlasts it several times.
SHORTEST = {**QUICK, "CELERY_VISIBILITY_TIMEOUT": "1", "CELERY_UNACKED_HEARTBEAT_SECONDS": "0.1"}
#: OTUs of the import that must outlast SHORTEST's timeout and a sweep (2 s) on a quiet
#: machine: 1,500 took 2.0 s in CI, which is too close.
LONGER_OTUS = 4000


@pytest.fixture
def curator_client(client_for, user_factory):
    return client_for(user_factory(username="curator", create_ref=True, upload_file=True))


def counts(reference_id: str) -> dict:
    return {
        "otus": OTU.objects.filter(reference_id=reference_id).count(),
        "isolates": Isolate.objects.filter(otu__reference_id=reference_id).count(),
        "sequences": Sequence.objects.filter(otu__reference_id=reference_id).count(),
    }


def start_import(client, path) -> tuple[str, str]:
    with open(path, "rb") as handle:
        response = client.post("/api/uploads?name=big.json.gz&type=reference", {"file": handle}, format="multipart")
    assert response.status_code == 201, response.content
    upload_id = response.json()["id"]
    response = client.post("/api/refs", {"name": "Big", "data_type": "genome", "import_from": upload_id}, format="json")
    assert response.status_code == 201, response.content
    return response.json()["id"], response.json()["process"]["id"]


def received(worker) -> int:
    """How many tasks the worker was handed."""
    return len(re.findall(r"Task refs\.import_reference\[[^\]]+\] received", worker.log()))


def unacked_client() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL, decode_responses=True)


def unacked_count() -> int:
    return unacked_client().zcard("unacked_index")


def big_file_of(path, otus: int):
    return reference_file(path, [file_otu(isolates=2, sequences=2, length=6000) for _ in range(otus)])


@pytest.fixture
def big_file(tmp_path):
    return big_file_of(tmp_path / "big.json.gz", 900)


def test_an_import_of_a_worker_killed_whole_finishes_on_another_worker_within_seconds(
    celery_worker_factory, curator_client, big_file
):
    unacked_before = unacked_count()
    first = celery_worker_factory(QUICK)
    reference_id, process_id = start_import(curator_client, big_file)
    wait_for(
        lambda: Process.objects.get(id=process_id).step in ("validate", "write_otus", "write_history"),
        timeout=120, interval=0.02, message="the import to run", log=first.log,
    )
    first.kill()
    killed = time.monotonic()
    assert not Process.objects.get(id=process_id).complete
    assert counts(reference_id)["otus"] == 0
    assert unacked_count() == unacked_before + 1  # the dead worker's task, unacknowledged

    # A new worker (any queue's sweep would do; this one serves the queue) takes it over once
    # the dead worker's last heartbeat is older than the visibility timeout.
    second = celery_worker_factory(QUICK, queue=first.queue)
    process = wait_for(
        lambda: (p := Process.objects.get(id=process_id)).complete and p,
        timeout=300, interval=0.1, message="the import on the second worker", log=second.log,
    )
    taken_over = next(
        line for line in second.log().splitlines() if re.search(r"Task refs\.import_reference\[[^\]]+\] received", line)
    )
    recovered = time.monotonic() - killed
    print(f"import finished {recovered:.1f} s after its worker was killed; {taken_over}")
    assert recovered < 120, recovered
    assert process.error is None, process.error
    assert counts(reference_id) == {"otus": 900, "isolates": 1800, "sequences": 3600}
    assert Change.objects.filter(reference_id=reference_id).count() == 900
    assert received(second) == 1
    wait_for(lambda: unacked_count() == unacked_before, timeout=10, message="the task acknowledged")


def test_a_long_import_on_a_live_worker_is_not_taken_from_it(celery_worker_factory, curator_client, tmp_path):
    """The import runs for several visibility timeouts on one of two workers of its queue while
    the other, idle, sweeps for stale tasks every second: the task stays the delivery it was
    until it is done, and is never put back on its queue.

    (Deliveries are told from the broker, by their delivery tags: the workers of one queue
    share a log file.)"""
    client = unacked_client()
    before = set(client.zrange("unacked_index", 0, -1))

    def held() -> set[str]:
        return set(client.zrange("unacked_index", 0, -1)) - before

    first = celery_worker_factory(SHORTEST)
    celery_worker_factory(SHORTEST, queue=first.queue)
    reference_id, process_id = start_import(curator_client, big_file_of(tmp_path / "longer.json.gz", LONGER_OTUS))
    (tag,) = wait_for(held, timeout=60, interval=0.02, message="a worker to take the task", log=first.log)
    started = time.monotonic()
    samples, steps = [], []

    def complete():
        process = Process.objects.get(id=process_id)
        if not process.complete:
            samples.append((held(), client.llen(first.queue)))
        if not steps or steps[-1] != process.step:
            steps.append(process.step)
        return process if process.complete else None

    process = wait_for(complete, timeout=600, interval=0.05, message="the import", log=first.log)
    elapsed = time.monotonic() - started
    print(f"import ran {elapsed:.1f} s, {elapsed:.1f} visibility timeouts; steps {steps}")
    assert process.error is None, process.error
    # Never restarted: its steps only went forward.
    order = ["load_file", "validate", "write_otus", "write_history"]
    assert [order.index(step) for step in steps] == sorted(order.index(step) for step in steps), steps
    assert samples and all(tags == {tag} and queued == 0 for tags, queued in samples), samples
    # Without the heartbeat, a sweep puts a task back at most a timeout and a sweep's interval
    # (1 + 1 s) after its delivery.
    assert elapsed > 2, "the import should outlast the visibility timeout and a sweep"
    assert OTU.objects.filter(reference_id=reference_id).count() == LONGER_OTUS
    wait_for(lambda: not held(), timeout=10, message="the ack")
