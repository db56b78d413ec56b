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


def test_staff_see_their_own_processes_and_jobs_but_not_others(client, user_factory):
    from virtool_site.services import job_create

    curator = user_factory(is_staff=True)
    other = user_factory(is_staff=True)
    own = process_create(process_type="clone_reference", steps=["copy"], user=curator)
    foreign = process_create(process_type="clone_reference", steps=["copy"], user=other)
    job, _ = job_create(workflow="build_index", user=curator)
    client.force_login(curator)
    listing = client.get("/admin/virtool_site/process/").content.decode()
    assert own.id in listing and foreign.id not in listing
    assert client.get(f"/admin/virtool_site/process/{own.id}/change/").status_code == 200
    assert client.get(f"/admin/virtool_site/process/{foreign.id}/change/").status_code in (302, 403, 404)
    page = client.get(f"/admin/virtool_site/job/{job.id}/change/")
    assert page.status_code == 200 and job.key_hash not in page.content.decode()
