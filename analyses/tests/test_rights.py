"""The sample-rights matrix, on every endpoint that reads or changes a sample or its analyses.

Existing but forbidden: 403 "Insufficient rights" (never 404). Whoever may write may read.
"""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from analyses.models import AnalysisFile, Workflow
from analyses.tests.factories import (
    AnalysisFactory,
    IndexFactory,
    ReferenceFactory,
    SampleFactory,
    nuvs_results,
    pathoscope_results,
)
from virtool_site.files import data_path
from virtool_site.services import job_create
from virtool_site.tests.factories import GroupFactory

pytestmark = pytest.mark.django_db

# (sample rights, who asks, may read, may write)
MATRIX = [
    ({}, "owner", True, True),
    ({}, "administrator", True, True),
    ({}, "stranger", False, False),
    ({"all_read": True}, "stranger", True, False),
    ({"all_write": True}, "stranger", True, True),
    ({"all_read": True, "all_write": True}, "stranger", True, True),
    ({"group_read": True}, "member", True, False),
    ({"group_write": True}, "member", True, True),
    ({"group_read": True, "group_write": True}, "member", True, True),
    ({}, "member", False, False),
    ({"group_read": True, "group_write": True}, "stranger", False, False),
    ({"group_read": True, "group_write": True, "group": None}, "member", False, False),
]


@pytest.fixture
def world(user_factory, admin_user, data_dir):
    owner = user_factory(username="owner", upload_file=True)
    group = GroupFactory(name="lab")
    member = user_factory(username="member", upload_file=True, create_sample=True)
    member.groups.add(group)
    stranger = user_factory(username="stranger", upload_file=True, create_sample=True)
    reference = ReferenceFactory(user=owner, public=True)
    IndexFactory(reference=reference, version=0)
    return {"owner": owner, "administrator": admin_user, "member": member, "stranger": stranger, "group": group,
            "reference": reference}


def make_sample(world, rights):
    fields = {"group": world["group"], "group_read": False, "group_write": False, "all_read": False, "all_write": False}
    fields.update(rights)
    sample = SampleFactory(user=world["owner"], **fields)
    pathoscope = AnalysisFactory(sample=sample, ready=True, results=pathoscope_results([]))
    nuvs = AnalysisFactory(sample=sample, ready=True, workflow=Workflow.NUVS, results=nuvs_results(["ACGTACGTAAGG"]))
    analysis_file = AnalysisFile.objects.create(analysis=pathoscope, name="r.json", name_on_disk="x-r.json", format="json")
    analysis_file.name_on_disk = f"{analysis_file.id}-r.json"
    analysis_file.save()
    path = data_path("analyses", pathoscope.id, analysis_file.name_on_disk)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("{}")
    return sample, pathoscope, nuvs, analysis_file


@pytest.mark.parametrize("rights, who, may_read, may_write", MATRIX)
def test_sample_rights_matrix(world, client_for, rights, who, may_read, may_write):
    sample, pathoscope, nuvs, analysis_file = make_sample(world, rights)
    client = client_for(world[who])

    def expect(response, allowed, success):
        assert response.status_code == (success if allowed else 403), (response.status_code, getattr(response, "data", None))
        if not allowed:
            assert response.json() == {"id": "insufficient_rights", "message": "Insufficient rights"}

    listed = {d["id"] for d in client.get("/api/samples?per_page=100").json()["documents"]}
    assert (sample.id in listed) is may_read

    expect(client.get(f"/api/samples/{sample.id}"), may_read, 200)
    expect(client.get(f"/api/samples/{sample.id}/analyses"), may_read, 200)
    expect(client.get(f"/api/analyses/{pathoscope.id}"), may_read, 200)
    expect(client.get(f"/api/analyses/document/{pathoscope.id}.csv"), may_read, 200)
    expect(client.get(f"/api/analyses/document/{pathoscope.id}.xlsx"), may_read, 200)
    expect(client.get(f"/api/analyses/{pathoscope.id}/files/{analysis_file.id}"), may_read, 200)

    expect(client.patch(f"/api/samples/{sample.id}", {"notes": "seen"}, format="json"), may_write, 200)
    expect(
        client.post(f"/api/samples/{sample.id}/analyses", {"ref_id": world["reference"].id, "workflow": "nuvs"}, format="json"),
        may_write,
        201,
    )
    expect(client.put(f"/api/analyses/{nuvs.id}/0/blast", {}, format="json"), may_write, 200)
    expect(
        client.post(f"/api/analyses/{pathoscope.id}/files?name=new.csv", {"file": _upload()}, format="multipart"),
        may_write,
        201,
    )
    expect(client.delete(f"/api/analyses/{nuvs.id}"), may_write, 204)
    expect(client.delete(f"/api/samples/{sample.id}"), may_write, 204)


def _upload():
    return SimpleUploadedFile("new.csv", b"a,b\n1,2\n")


def test_job_runners_have_no_sample_rights(world, job_client):
    sample, pathoscope, nuvs, _ = make_sample(world, {"all_read": True, "all_write": True})
    job, key = job_create(workflow="nuvs", user=world["owner"])
    client = job_client(job.id, key)
    assert client.get(f"/api/samples/{sample.id}").status_code == 403
    assert client.get("/api/samples").status_code == 403
    assert client.get(f"/api/analyses/{pathoscope.id}").status_code == 403
    assert client.delete(f"/api/analyses/{pathoscope.id}").status_code == 403
    assert client.put(f"/api/analyses/{nuvs.id}/0/blast", {}, format="json").status_code == 403
    assert client.get(f"/api/analyses/document/{pathoscope.id}.csv").status_code == 403


@pytest.mark.parametrize(
    "method, path",
    [
        ("get", "/api/samples"),
        ("post", "/api/samples"),
        ("get", "/api/samples/{sample}"),
        ("patch", "/api/samples/{sample}"),
        ("delete", "/api/samples/{sample}"),
        ("get", "/api/samples/{sample}/analyses"),
        ("post", "/api/samples/{sample}/analyses"),
        ("get", "/api/analyses/{analysis}"),
        ("patch", "/api/analyses/{analysis}"),
        ("delete", "/api/analyses/{analysis}"),
        ("post", "/api/analyses/{analysis}/files?name=a.csv"),
        ("get", "/api/analyses/{analysis}/files/{file}"),
        ("get", "/api/analyses/document/{analysis}.csv"),
        ("get", "/api/analyses/document/{analysis}.xlsx"),
        ("put", "/api/analyses/{nuvs}/0/blast"),
    ],
)
def test_every_endpoint_needs_authentication(world, api_client, method, path):
    sample, pathoscope, nuvs, analysis_file = make_sample(world, {"all_read": True, "all_write": True})
    url = path.format(sample=sample.id, analysis=pathoscope.id, nuvs=nuvs.id, file=analysis_file.id)
    response = getattr(api_client, method)(url)
    assert response.status_code == 401
    assert response.json()["id"] == "unauthorized"


def test_file_upload_in_another_media_type_is_415(world, client_for):
    _, pathoscope, _, _ = make_sample(world, {})
    response = client_for(world["owner"]).post(
        f"/api/analyses/{pathoscope.id}/files?name=a.csv", data=b"a,b", content_type="text/plain"
    )
    assert response.status_code == 415
