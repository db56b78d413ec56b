import pytest

from virtool_site.services import api_key_create, process_create

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "path",
    [
        "/admin/",
        "/admin/virtool_site/user/",
        "/admin/auth/group/",
        "/admin/virtool_site/apikey/",
        "/admin/virtool_site/process/",
        "/admin/virtool_site/upload/",
        "/admin/virtool_site/job/",
    ],
)
def test_site_admin_pages_load_for_a_superuser(client, admin_user, path):
    api_key_create(user=admin_user, name="k")
    process_create(process_type="delete_reference", steps=["delete_indexes", "delete_otus"], user=admin_user)
    client.force_login(admin_user)
    assert client.get(path).status_code == 200


def test_admin_is_closed_to_anonymous_visitors(client):
    response = client.get("/admin/virtool_site/user/")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
