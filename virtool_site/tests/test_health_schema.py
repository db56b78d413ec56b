import pytest
from django.core.management import call_command

pytestmark = pytest.mark.django_db


def test_health_reports_database_and_redis(api_client, settings):
    response = api_client.get("/api/health")
    body = response.json()
    assert body["database"] == "ok"
    if settings.REDIS_URL:
        assert body["redis"] == "ok"
    assert response.status_code == 200 and body["status"] == "ok"


def test_health_is_503_when_redis_is_unreachable(api_client, settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    response = api_client.get("/api/health")
    assert response.status_code == 503
    assert response.json()["redis"].startswith("error")


def test_openapi_schema_builds_without_warnings_or_errors(tmp_path, capsys):
    call_command("spectacular", "--fail-on-warn", "--validate", "--file", str(tmp_path / "schema.yaml"))
    assert (tmp_path / "schema.yaml").stat().st_size > 1000


def test_schema_and_swagger_ui_are_served(api_client, client):
    assert api_client.get("/api/schema/").status_code == 200
    docs = client.get("/api/docs/")
    assert docs.status_code == 200 and b"swagger" in docs.content.lower()


def test_admin_login_page_is_served(client):
    assert client.get("/admin/login/").status_code == 200


def test_health_reports_the_bucket_it_stores_files_in(api_client, s3_storage):
    response = api_client.get("/api/health")
    assert response.status_code == 200
    assert response.json()["storage"] == "ok"


def test_health_is_503_when_the_bucket_is_unreachable(api_client, s3_unreachable):
    response = api_client.get("/api/health")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable" and body["storage"].startswith("error")
    assert body["database"] == "ok"


def test_health_is_503_when_data_dir_cannot_be_written(api_client, settings, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    settings.DATA_DIR = str(blocker / "data")  # under a regular file: cannot be created
    response = api_client.get("/api/health")
    assert response.status_code == 503
    assert response.json()["storage"].startswith("error")
