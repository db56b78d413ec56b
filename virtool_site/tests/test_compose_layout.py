"""docker-compose.yml lays the service out as on several hosts (no Docker engine runs in CI, so
its layout is checked here, against the settings it must agree with)."""

import re
from pathlib import Path

import pytest
import yaml
from django.conf import settings

ROOT = Path(__file__).resolve().parents[2]
APP_SERVICES = ("migrate", "web", "worker", "builds-worker")


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def _command(service: dict) -> str:
    command = service["command"]
    return command if isinstance(command, str) else " ".join(command)


def _queues(service: dict) -> set[str] | None:
    """The queues a celery worker service consumes (None: the default queue)."""
    match = re.search(r"-Q[ =]?\s*(\S+)", _command(service))
    return set(match.group(1).split(",")) if match else None


def test_web_runs_two_gunicorn_replicas_behind_the_proxy(compose):
    web = compose["services"]["web"]
    assert web["deploy"]["replicas"] == 2
    assert "gunicorn virtool_site.wsgi:application" in _command(web)
    assert "server web:8000" in compose["configs"]["proxy"]["content"]
    assert compose["services"]["proxy"]["depends_on"] == ["web"]


def test_one_worker_serves_the_default_queue_and_one_the_builds_queue(compose):
    services = compose["services"]
    assert "celery -A virtool_site worker" in _command(services["worker"])
    assert _queues(services["worker"]) is None
    assert _queues(services["builds-worker"]) == {settings.CELERY_BUILDS_QUEUE}
    routed = {route["queue"] for route in settings.CELERY_TASK_ROUTES.values()}
    assert routed == {settings.CELERY_BUILDS_QUEUE}
    assert settings.CELERY_TASK_DEFAULT_QUEUE != settings.CELERY_BUILDS_QUEUE


def test_application_containers_share_no_volume_and_keep_files_in_the_bucket(compose):
    services = compose["services"]
    for name in APP_SERVICES:
        service = services[name]
        assert "volumes" not in service, f"{name} mounts a volume"
        environment = service["environment"]
        assert environment["AWS_STORAGE_BUCKET_NAME"] == "virtool"
        assert environment["AWS_S3_ENDPOINT_URL"] == "http://minio:9000"
        assert environment["DATA_DIR"] == "/data"  # the container's own scratch
    keeping = {name for name, service in services.items() if service.get("volumes")}
    assert keeping == {"postgres", "minio"}
    assert set(compose["volumes"]) == {"postgres", "minio"}


def test_the_bucket_exists_before_any_application_container_starts(compose):
    services = compose["services"]
    assert "mc mb --ignore-existing store/virtool" in _command({"command": services["bucket"]["entrypoint"]})
    for name in APP_SERVICES:
        assert services[name]["depends_on"]["bucket"] == {"condition": "service_completed_successfully"}
    for name in ("web", "worker", "builds-worker"):
        assert services[name]["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}


def test_every_setting_compose_passes_is_one_the_service_reads(compose):
    read = (ROOT / "virtool_site" / "settings.py").read_text()
    for name in APP_SERVICES:
        for variable in compose["services"][name]["environment"]:
            assert f'"{variable}"' in read, f"{name} sets {variable}, which settings.py never reads"
