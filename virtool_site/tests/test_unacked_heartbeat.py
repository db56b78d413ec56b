"""The heartbeat that keeps a live worker's unacknowledged tasks its own (virtool_site.celery),
against the real Redis broker: it moves the delivery time of the tasks the worker holds to
now, and touches nothing else. (With real workers: refs/tests/test_worker_recovery.py.)"""

import time
import uuid

import pytest
import redis
from celery.worker import state
from django.conf import settings

from conftest import service_missing
from virtool_site.celery import UnackedHeartbeat, _held_delivery_tags
from virtool_site.celery import app as celery_app


class _Message:
    def __init__(self, tag):
        self.delivery_tag = tag


class _Request:
    def __init__(self, tag):
        self.message = _Message(tag)


@pytest.fixture
def broker():
    if not settings.REDIS_URL:
        service_missing("the heartbeat needs Redis (set REDIS_URL)")
    client = redis.Redis.from_url(settings.REDIS_URL, decode_responses=True)
    previous = celery_app.conf.broker_url
    celery_app.conf.broker_url = settings.REDIS_URL
    yield client
    celery_app.conf.broker_url = previous


def test_the_heartbeat_refreshes_the_tasks_held_and_nothing_else(broker):
    running, reserved, scheduled, other, gone = (f"test-{uuid.uuid4()}" for _ in range(5))
    old = time.time() - 3600
    broker.zadd("unacked_index", {running: old, reserved: old, scheduled: old, other: old})
    held = [_Request(running), _Request(reserved), _Request(scheduled), _Request(gone)]
    state.active_requests.add(held[0])
    state.reserved_requests.add(held[1])
    state.scheduled_requests.add(held[2])
    state.active_requests.add(held[3])
    heartbeat = UnackedHeartbeat(celery_app, 0.05)
    try:
        assert {running, reserved, scheduled, gone} <= set(_held_delivery_tags())
        heartbeat.start()
        deadline = time.monotonic() + 10
        while heartbeat.beats < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert heartbeat.beats >= 2
        scores = {tag: broker.zscore("unacked_index", tag) for tag in (running, reserved, scheduled, other, gone)}
        now = time.time()
        assert all(now - scores[tag] < 5 for tag in (running, reserved, scheduled)), scores
        assert scores[other] == old  # another worker's task
        assert scores[gone] is None  # acknowledged (or put back) meanwhile: not brought back
    finally:
        heartbeat.stop()
        heartbeat.join(timeout=5)
        for request in held:
            state.active_requests.discard(request)
            state.reserved_requests.discard(request)
            state.scheduled_requests.discard(request)
        broker.zrem("unacked_index", running, reserved, scheduled, other, gone)
