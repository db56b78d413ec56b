"""The index admin: builds with status, files with working download links, manifest."""

import pytest

from history.models import Change
from indexes.models import Index, IndexFile
from indexes.selectors import index_file_path
from refs.models import ReferenceUser
from refs.tests.admin_helpers import curator, web  # noqa: F401 (fixtures)
from refs.tests.conftest import full_otu, otu_factory, owner, reference  # noqa: F401
from virtool_site.models import Job

pytestmark = pytest.mark.django_db

INDEXES = "/admin/indexes/index/"


@pytest.fixture
def ready_index(reference, full_otu, owner):
    job = Job.objects.create(workflow="build_index", user=owner, state=Job.State.COMPLETE, progress=1.0)
    index = Index.objects.create(
        reference=reference, version=0, ready=True, user=owner, job=job, manifest={full_otu.id: full_otu.version}
    )
    Change.objects.filter(reference_id=reference.id).update(index=index)
    path = index_file_path(index, "reference.fa.gz")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\x1f\x8bfasta")
    IndexFile.objects.create(index=index, name="reference.fa.gz", type=IndexFile.Type.FASTA, size=7)
    return index


def test_index_list_shows_status_and_links(web, ready_index, reference):
    response = web.get(INDEXES)
    assert response.status_code == 200
    assert [i.id for i in response.context["cl"].result_list] == [ready_index.id]
    content = response.content.decode()
    assert "Plant Viruses" in content and "ready" in content
    assert f"/admin/virtool_site/job/{ready_index.job_id}/change/" in content
    assert len(web.get(INDEXES, {"reference": reference.id}).context["cl"].result_list) == 1
    assert len(web.get(INDEXES, {"ready__exact": "0"}).context["cl"].result_list) == 0


def test_index_page_lists_files_with_download_links_and_the_manifest(web, ready_index, full_otu):
    response = web.get(f"{INDEXES}{ready_index.id}/change/")
    assert response.status_code == 200
    content = response.content.decode()
    link = f"/api/indexes/{ready_index.id}/files/reference.fa.gz"
    assert f'href="{link}"' in content
    assert f"&quot;{full_otu.id}&quot;: {full_otu.version}" in content and "1 OTU(s)" in content
    assert f"/admin/history/change/?index__id__exact={ready_index.id}" in content
    # The link downloads the file with the admin session, through the API's rights.
    download = web.get(link)
    assert download.status_code == 200 and b"".join(download.streaming_content) == b"\x1f\x8bfasta"


def test_a_build_started_in_the_admin_shows_its_job_status(web, reference, full_otu):
    web.post(f"/admin/refs/reference/{reference.pk}/build/")
    index = Index.objects.get(reference=reference)
    content = web.get(f"{INDEXES}{index.id}/change/").content.decode()
    assert "waiting, 0%" in content


def test_indexes_are_read_only(web, ready_index):
    assert web.get(f"{INDEXES}add/").status_code == 403
    assert web.post(f"{INDEXES}{ready_index.id}/delete/", {"post": "yes"}).status_code == 403
    page = web.get(f"{INDEXES}{ready_index.id}/change/").content.decode()
    assert 'name="_save"' not in page


def test_staff_see_only_indexes_of_their_references(client, user_factory, ready_index, reference):
    staff = user_factory(username="staff", is_staff=True)
    client.force_login(staff)
    assert list(client.get(INDEXES).context["cl"].result_list) == []
    assert client.get(f"{INDEXES}{ready_index.id}/change/").status_code == 302
    ReferenceUser.objects.create(reference=reference, user=staff, build=True)
    assert len(client.get(INDEXES).context["cl"].result_list) == 1
