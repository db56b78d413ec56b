"""Reading indexes: GET /api/indexes, /api/refs/{id}/indexes, /api/indexes/{id}, its history and files."""

import re

import pytest

from history.models import Change
from indexes.models import Index
from indexes.selectors import index_directory
from indexes.services import index_create
from indexes.tests.factories import IndexFactory, ReferenceFactory, otu_create, otu_edit
from refs.models import OTU
from virtool_site.services import job_create

pytestmark = pytest.mark.django_db

LIST_KEYS = {
    "id",
    "version",
    "created_at",
    "ready",
    "has_files",
    "job",
    "ref",
    "reference",
    "user",
    "change_count",
    "modified_otu_count",
    "modified_kind_count",
}
ENVELOPE_KEYS = {"documents", "total_count", "found_count", "page_count", "per_page", "page"}
UNBUILT_KEYS = {"change_count", "modified_otu_count", "modified_kind_count", "total_otu_count"}


@pytest.fixture
def built(built_reference, user_client, django_capture_on_commit_callbacks):
    """`built_reference` with one ready index (built by the in-process task)."""
    with django_capture_on_commit_callbacks(execute=True):
        response = user_client.post(f"/api/refs/{built_reference.id}/indexes")
    assert response.status_code == 201
    return Index.objects.get(id=response.json()["id"])


def make_indexes(reference, count: int) -> list[Index]:
    """Ready index rows (no files), each with two changes of its own."""
    indexes = []
    for position in range(count):
        otu = otu_create(reference, name=f"Listed virus {reference.id} {position}")
        otu_edit(otu, abbreviation=f"L{position}")
        index = IndexFactory(reference=reference, version=position)
        Change.objects.filter(otu_id=otu.id).update(index=index)
        indexes.append(index)
    return indexes


class TestFindForReference:
    def test_lists_indexes_in_the_spec_shape(self, user_client, built):
        response = user_client.get(f"/api/refs/{built.reference_id}/indexes")
        assert response.status_code == 200
        body = response.json()
        assert ENVELOPE_KEYS | UNBUILT_KEYS == set(body)
        assert (body["total_count"], body["found_count"], body["page_count"], body["per_page"], body["page"]) == (1, 1, 1, 15, 1)
        [document] = body["documents"]
        assert set(document) == LIST_KEYS
        assert document == {
            "id": built.id,
            "version": 0,
            "created_at": document["created_at"],
            "ready": True,
            "has_files": True,
            "job": {"id": built.job_id},
            "ref": {"id": built.reference_id},
            "reference": {"id": built.reference_id},
            "user": {"id": built.user.username},
            "change_count": 3,
            "modified_otu_count": 3,
            "modified_kind_count": 3,
        }
        assert document["created_at"].endswith("Z")
        assert (body["change_count"], body["modified_otu_count"], body["total_otu_count"]) == (0, 0, 3)

    def test_unbuilt_figures_count_changes_not_yet_built(self, user_client, built):
        otu = OTU.objects.filter(reference_id=built.reference_id).first()
        otu_edit(otu, abbreviation="X1")
        otu_edit(otu, abbreviation="X2")
        body = user_client.get(f"/api/refs/{built.reference_id}/indexes").json()
        assert (body["change_count"], body["modified_otu_count"], body["modified_kind_count"]) == (2, 1, 1)

    def test_newest_first_and_paginated(self, user_client, reference):
        indexes = make_indexes(reference, 3)
        body = user_client.get(f"/api/refs/{reference.id}/indexes?per_page=2&page=2").json()
        assert (body["found_count"], body["page_count"], body["page"]) == (3, 2, 2)
        assert [d["id"] for d in body["documents"]] == [indexes[0].id]
        first = user_client.get(f"/api/refs/{reference.id}/indexes?per_page=2").json()
        assert [d["version"] for d in first["documents"]] == [2, 1]
        assert [d["change_count"] for d in first["documents"]] == [2, 2]
        assert [d["modified_otu_count"] for d in first["documents"]] == [1, 1]

    def test_fixed_number_of_queries(self, user_client, reference, django_assert_num_queries):
        make_indexes(reference, 6)
        url = f"/api/refs/{reference.id}/indexes"
        # the reference's visibility, the page, the found count, the unbuilt figures
        with django_assert_num_queries(4) as small:
            assert len(user_client.get(url + "?per_page=2").json()["documents"]) == 2
        with django_assert_num_queries(len(small.captured_queries)):
            assert len(user_client.get(url + "?per_page=6").json()["documents"]) == 6

    def test_404_for_a_reference_the_user_cannot_see(self, client_for, user_factory, built):
        response = client_for(user_factory()).get(f"/api/refs/{built.reference_id}/indexes")
        assert response.status_code == 404
        assert response.json() == {"id": "not_found", "message": "Not found"}

    def test_404_for_a_missing_reference(self, user_client):
        assert user_client.get("/api/refs/missing1/indexes").status_code == 404

    def test_422_for_an_invalid_page(self, user_client, reference):
        response = user_client.get(f"/api/refs/{reference.id}/indexes?page=0")
        assert response.status_code == 422
        assert response.json()["id"] == "invalid_query"
        assert "page" in response.json()["errors"]

    def test_401_anonymous(self, api_client, reference):
        assert api_client.get(f"/api/refs/{reference.id}/indexes").status_code == 401

    def test_public_reference_indexes_are_visible_to_everyone(self, client_for, user_factory, built):
        built.reference.public = True
        built.reference.save()
        body = client_for(user_factory()).get(f"/api/refs/{built.reference_id}/indexes").json()
        assert [d["id"] for d in body["documents"]] == [built.id]


class TestFind:
    def test_lists_visible_indexes_with_unbuilt_figures(self, client_for, user, user_factory, reference):
        mine = make_indexes(reference, 2)
        other_reference = ReferenceFactory(user=user_factory())
        make_indexes(other_reference, 1)
        otu_create(reference, name="Unbuilt virus")
        body = client_for(user).get("/api/indexes").json()
        assert ENVELOPE_KEYS | UNBUILT_KEYS == set(body)
        assert [d["id"] for d in body["documents"]] == [mine[1].id, mine[0].id]
        assert set(body["documents"][0]) == LIST_KEYS
        assert (body["total_count"], body["found_count"]) == (2, 2)
        assert (body["change_count"], body["modified_otu_count"], body["total_otu_count"]) == (1, 1, 3)

    def test_administrator_sees_every_index(self, admin_client, user_factory):
        make_indexes(ReferenceFactory(user=user_factory()), 1)
        make_indexes(ReferenceFactory(user=user_factory()), 2)
        assert admin_client.get("/api/indexes").json()["found_count"] == 3

    def test_ready_filter(self, user_client, reference):
        ready, unready = make_indexes(reference, 2)
        Index.objects.filter(id=unready.id).update(ready=False)
        body = user_client.get("/api/indexes?ready=true").json()
        assert [d["id"] for d in body["documents"]] == [ready.id]
        assert (body["total_count"], body["found_count"]) == (2, 1)
        body = user_client.get("/api/indexes?ready=false").json()
        assert [d["id"] for d in body["documents"]] == [unready.id]

    def test_deleted_references_indexes_are_not_listed(self, user_client, reference):
        make_indexes(reference, 1)
        reference.deleted = True
        reference.save()
        assert user_client.get("/api/indexes").json()["found_count"] == 0

    def test_fixed_number_of_queries(self, user_client, reference, django_assert_num_queries):
        make_indexes(reference, 5)
        # the page, the total count (found count: nothing is filtered), the unbuilt figures
        with django_assert_num_queries(3) as small:
            assert len(user_client.get("/api/indexes?per_page=1").json()["documents"]) == 1
        with django_assert_num_queries(len(small.captured_queries)):
            assert len(user_client.get("/api/indexes?per_page=5").json()["documents"]) == 5

    @pytest.mark.parametrize("query", ["per_page=0", "per_page=1000", "page=x", "ready=perhaps"])
    def test_422_for_an_invalid_query(self, user_client, query):
        response = user_client.get(f"/api/indexes?{query}")
        assert response.status_code == 422
        assert response.json()["message"] == "Invalid query"

    def test_401_anonymous(self, api_client):
        assert api_client.get("/api/indexes").status_code == 401

    def test_403_for_a_job_runner(self, job_client, user):
        job, key = job_create(workflow="build_index", user=user)
        assert job_client(job.id, key).get("/api/indexes").status_code == 403


class TestGet:
    def test_complete_representation(self, user_client, built):
        response = user_client.get(f"/api/indexes/{built.id}")
        assert response.status_code == 200
        body = response.json()
        username = built.user.username
        assert body["id"] == built.id
        assert body["version"] == 0
        assert body["ready"] is True
        assert body["user"] == {"id": username}
        assert body["job"] == {"id": built.job_id}
        assert body["manifest"] == {otu.id: 0 for otu in OTU.objects.filter(reference_id=built.reference_id)}
        assert body["contributors"] == [{"id": username, "count": 3}]
        assert body["change_count"] == 3
        assert body["modified_otu_count"] == body["modified_kind_count"] == 3
        assert body["reference"] == {"id": built.reference_id, "name": "Plant viruses", "data_type": "genome"}
        assert body["ref"] == {"id": built.reference_id}
        assert [otu["name"] for otu in body["otus"]] == [
            "Abaca bunchy top virus",
            "Banana bract mosaic virus",
            "Cucumber mosaic virus",
        ]
        assert {otu["version"] for otu in body["otus"]} == {0}
        assert {otu["change_count"] for otu in body["otus"]} == {1}
        files = {f["name"]: f for f in body["files"]}
        assert len(files) == 8
        fasta = files["reference.fa.gz"]
        assert set(fasta) == {"id", "name", "type", "size", "download_url"}
        assert fasta["type"] == "fasta"
        assert fasta["download_url"] == f"/api/indexes/{built.id}/files/reference.fa.gz"
        assert fasta["size"] == (index_directory(built) / "reference.fa.gz").stat().st_size

    def test_contributors_and_otus_count_every_change(self, client_for, user_factory, reference, user):
        other = user_factory(username="bob")
        otu = otu_create(reference, name="Shared virus")
        otu_edit(otu, user=other, abbreviation="SV1")
        otu_edit(otu, user=other, abbreviation="SV2")
        index, _ = index_create(user=user, reference_id=reference.id, runner="external")
        body = client_for(user).get(f"/api/indexes/{index.id}").json()
        assert body["contributors"] == [{"id": "bob", "count": 2}, {"id": user.username, "count": 1}]
        assert body["otus"] == [{"id": otu.id, "name": "Shared virus", "version": 2, "change_count": 3}]
        assert body["ready"] is False
        assert body["files"] == []

    def test_has_every_field_the_spec_shows_with_created_at_in_utc(self, user_client, user, reference):
        otu_create(reference, name="Spec virus")
        index, _ = index_create(user=user, reference_id=reference.id, runner="external")
        body = user_client.get(f"/api/indexes/{index.id}").json()
        spec_fields = {"version", "created_at", "manifest", "ready", "user", "job", "id", "contributors", "change_count"}
        assert spec_fields <= set(body)
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", body["created_at"])
        assert body["job"] == {"id": index.job_id}
        assert body["manifest"] == index.manifest

    def test_the_indexs_own_job_runner_may_read_it(self, job_client, user, built_reference):
        index, key = index_create(user=user, reference_id=built_reference.id, runner="external")
        response = job_client(index.job_id, key).get(f"/api/indexes/{index.id}")
        assert response.status_code == 200
        assert response.json()["manifest"] == index.manifest

    def test_403_for_another_jobs_runner(self, job_client, user, built):
        job, key = job_create(workflow="build_index", user=user)
        response = job_client(job.id, key).get(f"/api/indexes/{built.id}")
        assert response.status_code == 403
        assert response.json() == {"id": "insufficient_rights", "message": "Insufficient rights"}

    def test_404_for_a_job_runner_and_a_missing_index(self, job_client, user):
        job, key = job_create(workflow="build_index", user=user)
        assert job_client(job.id, key).get("/api/indexes/missing1").status_code == 404

    def test_404_when_the_user_cannot_see_the_reference(self, client_for, user_factory, built):
        response = client_for(user_factory()).get(f"/api/indexes/{built.id}")
        assert response.status_code == 404
        assert response.json() == {"id": "not_found", "message": "Not found"}

    def test_404_for_a_missing_index(self, user_client):
        assert user_client.get("/api/indexes/missing1").status_code == 404

    def test_401_anonymous(self, api_client, built):
        assert api_client.get(f"/api/indexes/{built.id}").status_code == 401


class TestHistory:
    def test_lists_the_changes_built_into_the_index(self, user_client, built):
        otu_edit(OTU.objects.filter(reference_id=built.reference_id).first(), abbreviation="NEXT")
        response = user_client.get(f"/api/indexes/{built.id}/history")
        assert response.status_code == 200
        body = response.json()
        assert body["found_count"] == body["total_count"] == 3
        names = [d["otu"]["name"] for d in body["documents"]]
        assert names == ["Abaca bunchy top virus", "Banana bract mosaic virus", "Cucumber mosaic virus"]
        document = body["documents"][0]
        assert set(document) == {
            "id", "method_name", "description", "created_at", "otu", "virus", "reference", "index", "user"
        }
        assert document["index"] == {"id": built.id, "version": 0}
        assert document["virus"] == document["otu"]
        assert document["method_name"] == "create"
        assert document["description"] == "Created Abaca bunchy top virus"
        assert document["id"] == f"{document['otu']['id']}.0"
        assert document["user"] == {"id": built.user.username}

    def test_paginated_with_fixed_queries(self, user_client, built, django_assert_num_queries):
        # the index (visibility), the page with its found count
        with django_assert_num_queries(2) as small:
            body = user_client.get(f"/api/indexes/{built.id}/history?per_page=1&page=3").json()
        assert [d["otu"]["name"] for d in body["documents"]] == ["Cucumber mosaic virus"]
        with django_assert_num_queries(len(small.captured_queries)):
            user_client.get(f"/api/indexes/{built.id}/history?per_page=3")

    def test_404_for_an_index_the_user_cannot_see(self, client_for, user_factory, built):
        assert client_for(user_factory()).get(f"/api/indexes/{built.id}/history").status_code == 404

    def test_404_for_a_missing_index(self, user_client):
        assert user_client.get("/api/indexes/missing1/history").status_code == 404

    def test_422_for_an_invalid_query(self, user_client, built):
        assert user_client.get(f"/api/indexes/{built.id}/history?per_page=-1").status_code == 422

    def test_401_anonymous(self, api_client, built):
        assert api_client.get(f"/api/indexes/{built.id}/history").status_code == 401


class TestDownload:
    @pytest.mark.parametrize("name", ["reference.fa.gz", "reference.json.gz", "reference.1.bt2", "reference.rev.2.bt2"])
    def test_streams_the_file(self, user_client, built, name):
        response = user_client.get(f"/api/indexes/{built.id}/files/{name}")
        assert response.status_code == 200
        assert response.streaming
        assert b"".join(response.streaming_content) == (index_directory(built) / name).read_bytes()
        assert response["Content-Disposition"] == f'attachment; filename="{name}"'
        assert response["Content-Type"] == "application/octet-stream"

    def test_the_indexs_job_runner_may_download(self, job_client, user, built_reference, tmp_path):
        index, key = index_create(user=user, reference_id=built_reference.id, runner="external")
        client = job_client(index.job_id, key)
        upload = tmp_path / "reference.fa.gz"
        upload.write_bytes(b"\x1f\x8bdata")
        with open(upload, "rb") as handle:
            assert client.post(f"/api/indexes/{index.id}/files?name=reference.fa.gz", {"file": handle}, format="multipart").status_code == 201
        response = client.get(f"/api/indexes/{index.id}/files/reference.fa.gz")
        assert response.status_code == 200
        assert b"".join(response.streaming_content) == b"\x1f\x8bdata"

    def test_403_for_another_jobs_runner(self, job_client, user, built):
        job, key = job_create(workflow="build_index", user=user)
        assert job_client(job.id, key).get(f"/api/indexes/{built.id}/files/reference.fa.gz").status_code == 403

    def test_404_for_an_unknown_file(self, user_client, built):
        for name in ("reference.fa", "other.txt", "..", "reference.4.bt4"):
            assert user_client.get(f"/api/indexes/{built.id}/files/{name}").status_code == 404

    def test_404_when_the_file_is_gone_from_disk(self, user_client, built):
        (index_directory(built) / "reference.3.bt2").unlink()
        response = user_client.get(f"/api/indexes/{built.id}/files/reference.3.bt2")
        assert response.status_code == 404

    def test_404_for_an_index_the_user_cannot_see(self, client_for, user_factory, built):
        assert client_for(user_factory()).get(f"/api/indexes/{built.id}/files/reference.fa.gz").status_code == 404

    def test_401_anonymous(self, api_client, built):
        assert api_client.get(f"/api/indexes/{built.id}/files/reference.fa.gz").status_code == 401
