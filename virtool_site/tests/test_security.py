"""Security checks across the apps.

- Nothing of a private reference or sample reaches a caller without rights, by any road: the
  history lists, index lists, figures, details and file downloads, BrAPI (lists, details,
  bases, searches and saved searches), analysis files and exported documents, and the admin.
- File names sent by clients never become paths: traversal, absolute paths and NUL bytes are
  refused, the multipart file name is never used, and nothing is written or read outside
  DATA_DIR.
- Every kind of response carries the security headers.

(API keys stored hashed: virtool_site/tests/test_auth.py.)
"""

import re

import pytest
from django.contrib.auth.models import Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from analyses.models import AnalysisFile
from brapi.models import ReferenceSet
from history.models import Change
from indexes.models import IndexFile
from refs import services as refs_services
from virtool_site.models import Upload
from virtool_site.tests.api_world import world_build
from virtool_site.tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def world():
    return world_build()


def client_as(world, caller: str | None) -> APIClient:
    client = APIClient()
    if caller is not None:
        client.credentials(HTTP_AUTHORIZATION=world.authorization(caller))
    return client


@pytest.fixture
def nobody(world):
    return client_as(world, "nobody")


@pytest.fixture
def owner(world):
    return client_as(world, "owner")


# Private references: history -----------------------------------------------------------------


def test_history_lists_no_change_of_a_reference_the_user_cannot_see(world, nobody, owner):
    private = world.ids["ref_id"]
    seen = nobody.get("/api/history?per_page=100").json()
    assert {change["reference"]["id"] for change in seen["documents"]} == {world.ids["public_ref_id"]}
    visible = Change.objects.exclude(reference_id=private).count()
    assert seen["total_count"] == seen["found_count"] == visible
    # The owner sees them: the filter is about rights, not about the data being there.
    mine = owner.get("/api/history?per_page=100").json()
    assert private in {change["reference"]["id"] for change in mine["documents"]}


def test_the_removal_of_a_private_otu_stays_private(world, nobody):
    """A removal keeps the whole OTU document in its diff; it must not leak once the OTU is gone."""
    otu_id = world.ids["otu_id"]
    refs_services.otu_remove(user=world.users["owner"], otu_id=otu_id)
    removal = Change.objects.get(otu_id=otu_id, method_name="remove")
    assert nobody.get(f"/api/history/{removal.id}").status_code == 404
    assert nobody.get(f"/api/otus/{otu_id}/history").status_code == 404
    listing = nobody.get("/api/history?per_page=100").json()["documents"]
    assert otu_id not in {change["otu"]["id"] for change in listing}


def test_history_of_a_deleted_reference_is_not_listed(world, owner):
    assert owner.delete(f"/api/refs/{world.ids['ref_id']}").status_code == 202
    listing = owner.get("/api/history?per_page=100").json()
    assert world.ids["ref_id"] not in {change["reference"]["id"] for change in listing["documents"]}


# Private references: indexes -----------------------------------------------------------------


def test_index_lists_and_unbuilt_figures_leave_out_references_the_user_cannot_see(world, nobody, owner):
    listing = nobody.get("/api/indexes").json()
    assert listing["documents"] == [] and listing["total_count"] == 0
    # Only the public reference's one OTU and its one unbuilt change are counted.
    assert (listing["change_count"], listing["modified_otu_count"], listing["total_otu_count"]) == (1, 1, 1)
    mine = owner.get("/api/indexes").json()
    assert {index["id"] for index in mine["documents"]} == {world.ids["index_id"], world.ids["build_id"]}
    assert mine["total_otu_count"] == 2


@pytest.mark.parametrize(
    "path",
    [
        "/api/indexes/{index_id}",
        "/api/indexes/{index_id}/history",
        "/api/indexes/{index_id}/files/reference.fa.gz",
        "/api/indexes/{index_id}/files/reference.json.gz",
        "/api/indexes/{build_id}/files/reference.1.bt2",
        "/api/refs/{ref_id}/indexes",
        "/api/refs/{ref_id}/export",
    ],
)
def test_indexes_and_their_files_of_a_private_reference_are_not_found(world, nobody, path):
    response = nobody.get(path.format(**world.ids))
    assert response.status_code == 404
    assert response.json()["message"] == "Not found"


def test_a_job_runner_reads_only_its_own_index(world):
    runner = client_as(world, "index_job")
    assert runner.get(f"/api/indexes/{world.ids['build_id']}").status_code == 200
    assert runner.get(f"/api/indexes/{world.ids['index_id']}").status_code == 403
    assert runner.get(f"/api/indexes/{world.ids['index_id']}/files/reference.fa.gz").status_code == 403
    # An analysis runner is no index runner.
    analysis_runner = client_as(world, "analysis_job")
    assert analysis_runner.get(f"/api/indexes/{world.ids['build_id']}").status_code == 403


# Private references: BrAPI -------------------------------------------------------------------


@pytest.fixture(params=["anonymous", "nobody"])
def outsider(request, world):
    return client_as(world, None if request.param == "anonymous" else "nobody")


def _data(response) -> list:
    assert response.status_code == 200, response.content
    return response.json()["result"]["data"]


def test_brapi_lists_and_searches_leave_out_private_references(world, outsider):
    private_set, private_reference = world.ids["reference_set_id"], world.ids["brapi_reference_id"]
    assert private_set not in {item["referenceSetDbId"] for item in _data(outsider.get("/brapi/v2/referencesets"))}
    assert private_reference not in {item["referenceDbId"] for item in _data(outsider.get("/brapi/v2/references"))}
    by_id = outsider.get(f"/brapi/v2/references?referenceSetDbId={private_set}")
    assert _data(by_id) == []
    searched = outsider.post(
        "/brapi/v2/search/references", {"referenceSetDbIds": [private_set], "referenceDbIds": [private_reference]},
        format="json",
    )
    assert _data(searched) == []
    sets = outsider.post("/brapi/v2/search/referencesets", {"referenceSetDbIds": [private_set]}, format="json")
    assert _data(sets) == []


def test_brapi_common_crop_names_of_private_sets_are_not_listed(world, outsider, owner):
    ReferenceSet.objects.filter(id=world.ids["reference_set_id"]).update(common_crop_name="Secret crop")
    assert "Secret crop" not in _data(outsider.get("/brapi/v2/commoncropnames"))
    assert "Secret crop" in _data(owner.get("/brapi/v2/commoncropnames"))


@pytest.mark.parametrize(
    "path",
    [
        "/brapi/v2/referencesets/{reference_set_id}",
        "/brapi/v2/references/{brapi_reference_id}",
        "/brapi/v2/references/{brapi_reference_id}/bases",
        "/brapi/v2/search/references/{search_id}",
        "/brapi/v2/search/referencesets/{set_search_id}",
    ],
)
def test_brapi_private_objects_and_another_users_searches_are_not_found(world, outsider, path):
    response = outsider.get(path.format(**world.ids))
    assert response.status_code == 404
    assert isinstance(response.json(), str)


def test_a_saved_search_answers_with_what_the_reader_may_see_now(world, owner):
    """Results are recomputed for the reader: access lost after saving hides the data."""
    search = world.ids["search_id"]
    assert _data(owner.get(f"/brapi/v2/search/references/{search}?pageSize=100"))
    from refs.models import Reference, ReferenceUser

    Reference.objects.filter(id=world.ids["ref_id"]).update(user=None)
    ReferenceUser.objects.filter(reference_id=world.ids["ref_id"]).delete()
    world.users["owner"].groups.clear()
    assert _data(owner.get(f"/brapi/v2/search/references/{search}?pageSize=100")) == []


# Private samples: analyses, files, documents ---------------------------------------------------


def test_samples_list_leaves_out_samples_the_user_cannot_read(world, nobody):
    listing = nobody.get("/api/samples").json()
    assert listing["documents"] == [] and listing["total_count"] == listing["found_count"] == 0


@pytest.mark.parametrize(
    "path",
    [
        "/api/samples/{sample_id}",
        "/api/samples/{sample_id}/analyses",
        "/api/analyses/{analysis_id}",
        "/api/analyses/{nuvs_id}",
        "/api/analyses/{analysis_id}/files/{file_id}",
        "/api/analyses/document/{analysis_id}.csv",
        "/api/analyses/document/{analysis_id}.xlsx",
    ],
)
def test_analyses_their_files_and_documents_are_refused_without_sample_rights(world, nobody, path):
    response = nobody.get(path.format(**world.ids))
    assert response.status_code == 403
    assert response.json() == {"id": "insufficient_rights", "message": "Insufficient rights"}


def test_an_analysis_runner_reads_only_its_own_analysis(world):
    runner = client_as(world, "analysis_job")
    assert runner.get(f"/api/analyses/{world.ids['running_id']}").status_code == 200
    for path in ("/api/analyses/{analysis_id}", "/api/analyses/{analysis_id}/files/{file_id}", "/api/samples/{sample_id}"):
        assert runner.get(path.format(**world.ids)).status_code == 403
    assert client_as(world, "index_job").get(f"/api/analyses/{world.ids['running_id']}").status_code == 403


# The admin -----------------------------------------------------------------------------------


@pytest.fixture
def staff(world, client):
    """A staff user with every Django model permission but no right on the owner's data."""
    curator = UserFactory(username="curator", is_staff=True)
    curator.user_permissions.set(Permission.objects.all())
    client.force_login(curator)
    return client


@pytest.mark.parametrize(
    "changelist, hidden",
    [
        ("/admin/refs/reference/", ["ref_id"]),
        ("/admin/refs/otu/", ["otu_id"]),
        ("/admin/history/change/", ["change_id", "first_change_id"]),
        ("/admin/indexes/index/", ["index_id", "build_id"]),
        ("/admin/analyses/sample/", ["sample_id"]),
        ("/admin/analyses/analysis/", ["analysis_id", "nuvs_id", "running_id"]),
        ("/admin/brapi/referenceset/", ["reference_set_id"]),
        ("/admin/brapi/reference/", ["brapi_reference_id"]),
        ("/admin/brapi/search/", ["search_id", "set_search_id"]),
    ],
)
def test_a_staff_user_without_rights_does_not_see_private_data_in_the_admin(world, staff, changelist, hidden):
    for query in ("", "?q=Private", "?q=Banana"):
        response = staff.get(changelist + query)
        assert response.status_code in (200, 403), response.status_code
        content = response.content.decode()
        for name in hidden:
            assert world.ids[name] not in content, (changelist + query, name)
        for secret in ("Private viruses", "Private sample", "Banana streak virus"):
            assert secret not in content, (changelist + query, secret)


@pytest.mark.parametrize(
    "page",
    [
        "/admin/refs/reference/{ref_id}/change/",
        "/admin/refs/otu/{otu_id}/change/",
        "/admin/indexes/index/{index_id}/change/",
        "/admin/analyses/sample/{sample_id}/change/",
        "/admin/analyses/analysis/{analysis_id}/change/",
        "/admin/brapi/referenceset/{reference_set_id}/change/",
        "/admin/brapi/reference/{brapi_reference_id}/change/",
    ],
)
def test_a_staff_user_without_rights_cannot_open_private_objects_in_the_admin(world, staff, page):
    response = staff.get(page.format(**world.ids))
    assert response.status_code in (302, 403, 404)


def test_a_superuser_sees_everything_in_the_admin(world, client):
    client.force_login(world.users["administrator"])
    assert world.ids["ref_id"] in client.get("/admin/refs/reference/").content.decode()
    assert world.ids["reference_set_id"] in client.get("/admin/brapi/referenceset/").content.decode()


# File names from clients -------------------------------------------------------------------

HOSTILE_NAMES = ["../../escaped", "..", "/tmp/absolute", "a/b", "x\\..\\y", "nul\x00byte", " ../space", ".hidden"]


def _files_under(path) -> set[str]:
    return {str(p.relative_to(path)) for p in path.rglob("*")} if path.exists() else set()


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_upload_names_never_become_paths(world, owner, data_dir, tmp_path, name):
    from urllib.parse import quote

    before = _files_under(tmp_path)
    response = owner.post(
        f"/api/uploads?name={quote(name)}", {"file": SimpleUploadedFile("f", b"data")}, format="multipart"
    )
    assert response.status_code == 422, response.content
    assert Upload.objects.count() == 1  # the world's own
    assert _files_under(tmp_path) == before


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_analysis_file_names_never_become_paths(world, owner, tmp_path, name):
    from urllib.parse import quote

    before = _files_under(tmp_path)
    kept = AnalysisFile.objects.count()  # the world's own
    response = owner.post(
        f"/api/analyses/{world.ids['running_id']}/files?name={quote(name)}",
        {"file": SimpleUploadedFile("f.fa", b">a\nACGT\n")},
        format="multipart",
    )
    assert response.status_code == 422, response.content
    assert AnalysisFile.objects.count() == kept
    assert _files_under(tmp_path) == before


@pytest.mark.parametrize("name", ["../reference.1.bt2", "/etc/passwd", "reference.fa.gz\x00", "..", "../../escaped"])
def test_index_file_names_are_only_the_known_names(world, tmp_path, name):
    from urllib.parse import quote

    runner = client_as(world, "index_job")
    before = _files_under(tmp_path)
    files = IndexFile.objects.count()
    response = runner.post(
        f"/api/indexes/{world.ids['build_id']}/files?name={quote(name)}",
        {"file": SimpleUploadedFile("x", b"data")},
        format="multipart",
    )
    assert response.status_code in (400, 422), response.content
    assert IndexFile.objects.count() == files
    assert _files_under(tmp_path) == before


def test_the_multipart_file_name_is_never_used(world, owner, data_dir, tmp_path):
    response = owner.post(
        "/api/uploads?name=safe.json", {"file": SimpleUploadedFile("../../evil.json", b"{}")}, format="multipart"
    )
    assert response.status_code == 201
    upload = response.json()
    assert upload["name"] == "safe.json" and upload["id"].endswith("-safe.json")
    assert (data_dir / "uploads" / upload["id"]).is_file()
    assert not any("evil" in path for path in _files_under(tmp_path))


@pytest.mark.parametrize(
    "path",
    [
        "/api/indexes/{index_id}/files/..%2F..%2Fsecret.txt",
        "/api/indexes/{index_id}/files/%2e%2e",
        "/api/indexes/{index_id}/files/%2Fetc%2Fpasswd",
        "/api/indexes/{index_id}/files/reference.fa.gz%00",
        "/api/uploads/..%2F..%2Fsecret.txt",
        "/api/uploads/%2e%2e",
        "/api/uploads/x%00",
        "/api/analyses/{analysis_id}/files/..%2Fsecret.txt",
    ],
)
def test_downloads_read_nothing_outside_data_dir(world, owner, tmp_path, path):
    (tmp_path / "secret.txt").write_text("top secret")
    response = owner.get(path.format(**world.ids))
    assert response.status_code == 404
    assert b"top secret" not in b"".join(getattr(response, "streaming_content", [response.content]))


def test_a_nul_byte_in_any_path_parameter_is_not_found(world):
    """PostgreSQL can't hold NUL: every route refuses it before a query (404), never a 500."""
    from virtool_site.tests.test_permission_matrix import urlconf_endpoints

    administrator = client_as(world, "administrator")
    for route, method in sorted(urlconf_endpoints()):
        if "{" not in route:
            continue
        url = re.sub(r"\{\w+\}", "x%00", route)
        response = getattr(administrator, method.lower())(url)
        assert response.status_code == 404, (method, url, response.status_code)


# Security headers -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "caller, path",
    [
        ("owner", "/api/account"),
        ("owner", "/api/refs/{ref_id}/export"),  # streamed
        ("owner", "/api/uploads/{upload_id}"),  # a file
        ("owner", "/api/analyses/document/{analysis_id}.xlsx"),
        ("nobody", "/api/refs/{ref_id}"),  # 404 from a view
        ("nobody", "/api/users"),  # 403
        (None, "/api/account"),  # 401
        ("owner", "/api/no-such-endpoint"),  # Django's 404 handler
        (None, "/api/health"),
        (None, "/api/schema/"),
        (None, "/api/docs/"),
        (None, "/brapi/v2/serverinfo"),
        (None, "/brapi/v2/references/{brapi_reference_id}"),  # BrAPI 404
        (None, "/admin/login/"),
    ],
)
def test_every_kind_of_response_carries_the_security_headers(world, caller, path):
    response = client_as(world, caller).get(path.format(**world.ids))
    assert response["X-Content-Type-Options"] == "nosniff", path
    assert response["X-Frame-Options"] == "DENY", path
    assert response["Referrer-Policy"] == "same-origin", path
