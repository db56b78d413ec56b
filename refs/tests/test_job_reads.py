"""An index build's external runner (job key) reads what its index is built from: the OTUs of
the index's manifest at their manifest versions (GET /api/otus/{id}/{version}, or the OTU as
it is now with GET /api/otus/{id}), and nothing more: not OTUs outside the manifest, not
another reference's, no writes, not after its job ended. The versioned read for users too.
"""

import pytest
from rest_framework.test import APIClient

from indexes import services as index_services
from refs import services
from refs.models import Reference
from virtool_site.models import Job
from virtool_site.services import job_create, job_update
from virtool_site.tests.api_world import basic

pytestmark = pytest.mark.django_db

INSUFFICIENT = {"id": "insufficient_rights", "message": "Insufficient rights"}
NOT_FOUND = {"id": "not_found", "message": "Not found"}


def job_client(job_id: str, key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=basic(f"job-{job_id}", key))
    return client


@pytest.fixture
def build(owner, owner_client, reference, otu_factory):
    """A reference of two OTUs, an external build of it, and what changed after it started:
    one OTU edited, one removed, one created. Returns what the tests need."""
    edited = otu_factory("Banana streak virus", "BSV", isolates=2, sequences=1)
    removed = otu_factory("Grapevine virus A", "GVA", isolates=1, sequences=1)
    before = owner_client.get(f"/api/otus/{edited.id}").json()
    removed_before = owner_client.get(f"/api/otus/{removed.id}").json()
    index, key = index_services.index_create(
        user=owner, reference_id=reference.id, runner=index_services.RUNNER_EXTERNAL
    )
    services.otu_edit(user=owner, otu_id=edited.id, abbreviation="BSV2")
    services.otu_remove(user=owner, otu_id=removed.id)
    created = otu_factory("Tomato mosaic virus", "ToMV")
    return {
        "index": index,
        "job": job_client(index.job_id, key),
        "edited": edited.id,
        "edited_before": before,
        "removed": removed.id,
        "removed_before": removed_before,
        "created": created.id,
    }


def test_the_runner_reads_a_manifest_otu_at_its_manifest_version_as_it_was(build):
    version = build["index"].manifest[build["edited"]]
    response = build["job"].get(f"/api/otus/{build['edited']}/{version}")
    assert response.status_code == 200
    # The very document a user read before the edit.
    assert response.json() == build["edited_before"]
    assert response.json()["abbreviation"] == "BSV"


def test_the_runner_reads_a_manifest_otu_as_it_is_now(build):
    response = build["job"].get(f"/api/otus/{build['edited']}")
    assert response.status_code == 200
    assert response.json()["abbreviation"] == "BSV2"
    assert response.json()["version"] == build["index"].manifest[build["edited"]] + 1


def test_a_manifest_otu_removed_since_is_read_at_its_manifest_version(build):
    version = build["index"].manifest[build["removed"]]
    response = build["job"].get(f"/api/otus/{build['removed']}/{version}")
    assert response.status_code == 200
    assert response.json() == build["removed_before"]
    assert build["job"].get(f"/api/otus/{build['removed']}").json() == NOT_FOUND


def test_other_versions_of_a_manifest_otu_are_refused(build):
    version = build["index"].manifest[build["edited"]]
    for other in (version + 1, version - 1, 10_000):
        response = build["job"].get(f"/api/otus/{build['edited']}/{other}")
        assert (response.status_code, response.json()) == (403, INSUFFICIENT), other


def test_otus_outside_the_manifest_are_refused(build, owner, otu_factory):
    other_reference = services.reference_create(user=owner, name="Other viruses", public=True)
    other_otu = otu_factory("Potato virus Y", "PVY", ref=other_reference)
    for otu_id in (build["created"], other_otu.id):
        for path in (f"/api/otus/{otu_id}", f"/api/otus/{otu_id}/0"):
            response = build["job"].get(path)
            assert (response.status_code, response.json()) == (403, INSUFFICIENT), path
    assert build["job"].get("/api/otus/nosuchid").json() == NOT_FOUND
    assert build["job"].get("/api/otus/nosuchid/0").json() == NOT_FOUND


def test_the_runner_reads_nothing_else_and_writes_nothing(build, reference):
    job, otu_id = build["job"], build["edited"]
    refused = [
        job.patch(f"/api/otus/{otu_id}", {"abbreviation": "X"}, format="json"),
        job.delete(f"/api/otus/{otu_id}"),
        job.post(f"/api/otus/{otu_id}/isolates", {"source_name": "New"}, format="json"),
        job.get(f"/api/otus/{otu_id}/isolates"),
        job.get(f"/api/otus/{otu_id}/history"),
        job.get(f"/api/refs/{reference.id}"),
        job.get(f"/api/refs/{reference.id}/otus"),
        job.post(f"/api/refs/{reference.id}/otus", {"name": "New virus"}, format="json"),
    ]
    assert [(r.status_code, r.json()) for r in refused] == [(403, INSUFFICIENT)] * len(refused)


@pytest.mark.parametrize("state", [Job.State.COMPLETE, Job.State.ERROR, Job.State.CANCELLED])
def test_nothing_is_read_after_the_job_ended(build, state):
    job_update(job_id=build["index"].job_id, state=state)
    version = build["index"].manifest[build["edited"]]
    for path in (f"/api/otus/{build['edited']}", f"/api/otus/{build['edited']}/{version}"):
        assert build["job"].get(path).status_code == 401


def test_a_job_that_builds_no_index_reads_no_otu(build, owner):
    job, key = job_create(workflow="pathoscope_bowtie", user=owner, args={})
    client = job_client(job.id, key)
    version = build["index"].manifest[build["edited"]]
    for path in (f"/api/otus/{build['edited']}", f"/api/otus/{build['edited']}/{version}"):
        response = client.get(path)
        assert (response.status_code, response.json()) == (403, INSUFFICIENT), path


def test_a_build_of_a_deleted_reference_reads_nothing(build, reference):
    Reference.all_objects.filter(id=reference.id).update(deleted=True)
    version = build["index"].manifest[build["edited"]]
    assert build["job"].get(f"/api/otus/{build['edited']}/{version}").json() == NOT_FOUND


# The versioned read for users ---------------------------------------------------------------


def test_users_who_see_the_reference_read_any_version(build, owner_client, stranger_client):
    version = build["index"].manifest[build["edited"]]
    response = owner_client.get(f"/api/otus/{build['edited']}/{version}")
    assert response.status_code == 200 and response.json() == build["edited_before"]
    current = owner_client.get(f"/api/otus/{build['edited']}").json()
    assert owner_client.get(f"/api/otus/{build['edited']}/{version + 1}").json() == current
    first = owner_client.get(f"/api/otus/{build['edited']}/0").json()
    assert first["version"] == 0 and first["isolates"] == []
    assert first["most_recent_change"]["id"] == f"{build['edited']}.0"
    assert owner_client.get(f"/api/otus/{build['edited']}/{version + 2}").json() == NOT_FOUND
    assert stranger_client.get(f"/api/otus/{build['edited']}/{version}").json() == NOT_FOUND
    assert APIClient().get(f"/api/otus/{build['edited']}/0").status_code == 401


def test_a_removed_otus_versions_stay_readable(build, owner_client):
    version = build["index"].manifest[build["removed"]]
    assert owner_client.get(f"/api/otus/{build['removed']}/{version}").json() == build["removed_before"]
    assert owner_client.get(f"/api/otus/{build['removed']}").json() == NOT_FOUND


def test_a_version_past_any_integer_is_not_found(build, owner_client):
    assert owner_client.get(f"/api/otus/{build['edited']}/{2**70}").json() == NOT_FOUND
