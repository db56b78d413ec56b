"""POST /api/refs/{id}/indexes and the build it starts (Celery task run in-process)."""

import stat
from pathlib import Path

import pytest

from history.models import Change
from indexes.models import Index, IndexFile
from indexes.selectors import BOWTIE2_FILE_NAMES, index_directory
from indexes.services import index_build
from indexes.signals import index_ready
from indexes.tests.conftest import read_fasta_gz, read_json_gz
from indexes.tests.factories import ReferenceFactory, otu_create, otu_edit, otu_remove, random_bases
from refs.models import OTU, ReferenceUser, Sequence
from virtool_site.models import Job
from virtool_site.services import job_cancel, job_create

pytestmark = pytest.mark.django_db

ALL_FILES = ["reference.json.gz", "reference.fa.gz", *BOWTIE2_FILE_NAMES]


def require_postgresql():
    """Row locks and advisory locks are PostgreSQL's; the embedded SQLite runs one worker."""
    from django.db import connection

    from conftest import service_missing

    if connection.vendor != "postgresql":
        service_missing("this test needs PostgreSQL (set DATABASE_URL)")


def build_url(reference):
    return f"/api/refs/{reference.id}/indexes"


def default_sequences(reference) -> dict[str, str]:
    return dict(
        Sequence.objects.filter(otu__reference=reference, isolate__default=True).values_list("id", "sequence")
    )


class TestCreate:
    def test_returns_201_with_the_unready_index_and_its_job(self, user_client, built_reference, django_capture_on_commit_callbacks):
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            response = user_client.post(build_url(built_reference), {}, format="json")
        assert response.status_code == 201, response.json()
        body = response.json()
        index = Index.objects.get()
        assert response["Location"] == f"/api/indexes/{index.id}"
        assert body["id"] == index.id
        assert body["ready"] is False
        assert body["version"] == 0
        assert body["ref"] == {"id": built_reference.id}
        assert body["reference"] == {"id": built_reference.id, "name": "Plant viruses", "data_type": "genome"}
        assert body["user"] == {"id": built_reference.user.username}
        assert body["job"] == {"id": index.job_id, "workflow": "build_index", "state": "waiting", "progress": 0.0}
        assert body["manifest"] == dict(OTU.objects.filter(reference=built_reference).values_list("id", "version"))
        assert body["change_count"] == 3
        assert body["modified_otu_count"] == body["modified_kind_count"] == 3
        assert body["created_at"].endswith("Z")
        assert len(callbacks) == 1  # the build task, queued after commit

    def test_tags_unbuilt_changes_with_the_index_at_once(self, user_client, built_reference, django_capture_on_commit_callbacks):
        with django_capture_on_commit_callbacks(execute=False):
            response = user_client.post(build_url(built_reference))
        index_id = response.json()["id"]
        changes = Change.objects.filter(reference_id=built_reference.id)
        assert changes.count() == 3
        assert set(changes.values_list("index_id", flat=True)) == {index_id}

    def test_409_while_another_build_of_the_reference_is_unfinished(self, user_client, built_reference, django_capture_on_commit_callbacks):
        with django_capture_on_commit_callbacks(execute=False):
            assert user_client.post(build_url(built_reference)).status_code == 201
            otu_edit(OTU.objects.filter(reference=built_reference).first(), abbreviation="NEW")
            response = user_client.post(build_url(built_reference))
        assert response.status_code == 409
        assert response.json() == {"id": "conflict", "message": "Index build already in progress"}

    def test_400_when_an_otu_is_unverified(self, user_client, built_reference):
        otu_create(built_reference, name="Unfinished virus", verified=False)
        response = user_client.post(build_url(built_reference))
        assert response.status_code == 400
        assert response.json() == {"id": "bad_request", "message": "There are unverified OTUs"}
        assert not Index.objects.exists()

    def test_400_when_there_are_no_unbuilt_changes(self, user_client, reference):
        response = user_client.post(build_url(reference))
        assert response.status_code == 400
        assert response.json() == {"id": "bad_request", "message": "There are no unbuilt changes"}

    def test_403_without_the_build_right(self, client_for, user_factory, built_reference):
        other = user_factory()
        ReferenceUser.objects.create(reference=built_reference, user=other, modify=True, modify_otu=True)
        response = client_for(other).post(build_url(built_reference))
        assert response.status_code == 403
        assert response.json() == {"id": "insufficient_rights", "message": "Insufficient rights"}

    def test_403_on_a_public_reference_without_the_build_right(self, client_for, user_factory, built_reference):
        built_reference.public = True
        built_reference.save()
        assert client_for(user_factory()).post(build_url(built_reference)).status_code == 403

    def test_a_group_build_right_is_enough(self, client_for, user_factory, built_reference, django_capture_on_commit_callbacks):
        from refs.models import ReferenceGroup
        from virtool_site.tests.factories import GroupFactory

        group = GroupFactory()
        member = user_factory()
        member.groups.add(group)
        ReferenceGroup.objects.create(reference=built_reference, group=group, build=True)
        with django_capture_on_commit_callbacks(execute=False):
            assert client_for(member).post(build_url(built_reference)).status_code == 201

    def test_administrator_may_build_any_reference(self, admin_client, built_reference, django_capture_on_commit_callbacks):
        with django_capture_on_commit_callbacks(execute=False):
            assert admin_client.post(build_url(built_reference)).status_code == 201

    def test_404_for_a_reference_the_user_cannot_see(self, client_for, user_factory, built_reference):
        response = client_for(user_factory()).post(build_url(built_reference))
        assert response.status_code == 404
        assert response.json() == {"id": "not_found", "message": "Not found"}

    def test_404_for_a_missing_reference(self, user_client):
        assert user_client.post("/api/refs/nothere1/indexes").status_code == 404

    def test_401_anonymous(self, api_client, built_reference):
        assert api_client.post(build_url(built_reference)).status_code == 401

    def test_403_for_a_job_runner(self, job_client, built_reference, user):
        job, key = job_create(workflow="build_index", user=user)
        assert job_client(job.id, key).post(build_url(built_reference)).status_code == 403

    def test_422_for_an_unknown_runner(self, user_client, built_reference):
        response = user_client.post(build_url(built_reference), {"runner": "docker"}, format="json")
        assert response.status_code == 422
        assert "runner" in response.json()["errors"]
        response = user_client.post(build_url(built_reference) + "?runner=docker")
        assert response.status_code == 422
        assert response.json()["message"] == "Invalid query"

    @pytest.mark.parametrize("how", ["body", "query"])
    def test_external_runner_gets_the_job_key_and_no_task_is_queued(
        self, user_client, built_reference, how, django_capture_on_commit_callbacks
    ):
        with django_capture_on_commit_callbacks(execute=True):
            if how == "body":
                response = user_client.post(build_url(built_reference), {"runner": "external"}, format="json")
            else:
                response = user_client.post(build_url(built_reference) + "?runner=external")
        assert response.status_code == 201
        job = response.json()["job"]
        assert len(job["key"]) > 20
        index = Index.objects.get()
        assert index.ready is False
        assert Job.objects.get(id=job["id"]).state == "waiting"
        assert not index_directory(index).exists()

    def test_celery_runner_response_does_not_show_the_key(self, user_client, built_reference, django_capture_on_commit_callbacks):
        with django_capture_on_commit_callbacks(execute=False):
            response = user_client.post(build_url(built_reference))
        assert "key" not in response.json()["job"]

    def test_a_cancelled_build_does_not_block_the_next_one(self, user_client, built_reference, django_capture_on_commit_callbacks):
        with django_capture_on_commit_callbacks(execute=False):
            first = user_client.post(build_url(built_reference)).json()
        job_cancel(job_id=first["job"]["id"])
        with django_capture_on_commit_callbacks(execute=False):
            second = user_client.post(build_url(built_reference))
        assert second.status_code == 201
        assert second.json()["version"] == 0
        assert not Index.objects.filter(id=first["id"]).exists()
        assert set(Change.objects.values_list("index_id", flat=True)) == {second.json()["id"]}


class TestBuild:
    def build(self, client, reference, capture):
        with capture(execute=True):
            response = client.post(build_url(reference))
        assert response.status_code == 201, response.json()
        return Index.objects.get(id=response.json()["id"])

    def test_builds_files_and_finalizes(self, user_client, built_reference, django_capture_on_commit_callbacks):
        received = []

        def receiver(sender, index, **kwargs):
            received.append(index.id)

        index_ready.connect(receiver)
        try:
            index = self.build(user_client, built_reference, django_capture_on_commit_callbacks)
        finally:
            index_ready.disconnect(receiver)
        index.refresh_from_db()
        assert index.ready is True
        assert received == [index.id]
        assert index.job.state == "complete"
        assert index.job.progress == 1.0
        directory = index_directory(index)
        assert sorted(p.name for p in directory.iterdir()) == sorted(ALL_FILES)
        files = {f.name: f for f in IndexFile.objects.filter(index=index)}
        assert sorted(files) == sorted(ALL_FILES)
        assert files["reference.json.gz"].type == "json"
        assert files["reference.fa.gz"].type == "fasta"
        assert {files[name].type for name in BOWTIE2_FILE_NAMES} == {"bowtie2"}
        for name, index_file in files.items():
            assert index_file.size == (directory / name).stat().st_size > 0
        for otu in OTU.objects.filter(reference=built_reference):
            assert otu.last_indexed_version == otu.version == index.manifest[otu.id]

    def test_fasta_holds_the_default_isolates_sequences(self, user_client, built_reference, django_capture_on_commit_callbacks):
        index = self.build(user_client, built_reference, django_capture_on_commit_callbacks)
        records = read_fasta_gz(index_directory(index) / "reference.fa.gz")
        assert records == default_sequences(built_reference)
        assert len(records) == 4  # two in the first OTU's default isolate, one each in the others

    def test_json_is_a_reference_file_of_the_manifest_state(self, user_client, built_reference, django_capture_on_commit_callbacks):
        index = self.build(user_client, built_reference, django_capture_on_commit_callbacks)
        document = read_json_gz(index_directory(index) / "reference.json.gz")
        assert {k: document[k] for k in ("name", "organism", "data_type")} == {
            "name": "Plant viruses",
            "organism": "virus",
            "data_type": "genome",
        }
        assert document["created_at"].endswith("Z")
        assert sorted(otu["_id"] for otu in document["otus"]) == sorted(index.manifest)
        abaca = next(otu for otu in document["otus"] if otu["name"] == "Abaca bunchy top virus")
        assert set(abaca) == {"_id", "name", "abbreviation", "schema", "taxid", "isolates"}
        assert [len(i["sequences"]) for i in abaca["isolates"]] == [2, 2]
        assert [i["default"] for i in abaca["isolates"]] == [True, False]
        assert set(abaca["isolates"][0]["sequences"][0]) == {"_id", "accession", "definition", "host", "segment", "sequence"}

    def test_json_passes_the_reference_file_import_validation(self, user_client, built_reference, django_capture_on_commit_callbacks):
        from refs.imports import reference_file_validate

        index = self.build(user_client, built_reference, django_capture_on_commit_callbacks)
        summary = reference_file_validate(index_directory(index) / "reference.json.gz")
        assert (summary.otu_count, summary.isolate_count, summary.sequence_count) == (3, 4, 6)

    def test_second_build_has_the_next_version_and_only_new_changes(self, user_client, built_reference, django_capture_on_commit_callbacks):
        first = self.build(user_client, built_reference, django_capture_on_commit_callbacks)
        otu = OTU.objects.get(reference=built_reference, name="Cucumber mosaic virus")
        otu_edit(otu, abbreviation="CMV")
        otu_edit(otu, sequence=random_bases(200, seed=4))
        second = self.build(user_client, built_reference, django_capture_on_commit_callbacks)
        second.refresh_from_db()
        assert second.ready and second.version == 1
        assert second.manifest[otu.id] == 2
        assert Change.objects.filter(index=second).count() == 2
        assert Change.objects.filter(index=first).count() == 3
        otu.refresh_from_db()
        assert otu.last_indexed_version == 2
        assert read_fasta_gz(index_directory(second) / "reference.fa.gz") == default_sequences(built_reference)

    def test_reads_each_otu_at_its_manifest_version_when_edited_during_the_build(
        self, user_client, built_reference, django_capture_on_commit_callbacks
    ):
        expected_fasta = default_sequences(built_reference)
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            response = user_client.post(build_url(built_reference))
        index = Index.objects.get(id=response.json()["id"])
        edited = OTU.objects.get(reference=built_reference, name="Abaca bunchy top virus")
        otu_edit(edited, sequence="T" * 250, abbreviation="CHANGED")
        otu_remove(OTU.objects.get(reference=built_reference, name="Banana bract mosaic virus"))
        for callback in callbacks:
            callback()
        index.refresh_from_db()
        assert index.ready
        assert read_fasta_gz(index_directory(index) / "reference.fa.gz") == expected_fasta
        document = read_json_gz(index_directory(index) / "reference.json.gz")
        names = sorted(otu["name"] for otu in document["otus"])
        assert names == ["Abaca bunchy top virus", "Banana bract mosaic virus", "Cucumber mosaic virus"]
        abaca = next(otu for otu in document["otus"] if otu["_id"] == edited.id)
        assert abaca["abbreviation"] != "CHANGED"
        edited.refresh_from_db()
        assert edited.last_indexed_version == 0 and edited.version == 1
        # The edits made during the build are the next build's.
        assert Change.objects.filter(index__isnull=True).count() == 2

    def test_changes_of_an_otu_removed_before_the_build_are_built(self, user_client, built_reference, django_capture_on_commit_callbacks):
        otu = OTU.objects.get(reference=built_reference, name="Banana bract mosaic virus")
        otu_id = otu.id
        otu_remove(otu)
        index = self.build(user_client, built_reference, django_capture_on_commit_callbacks)
        assert otu_id not in index.manifest
        assert Change.objects.filter(otu_id=otu_id, index=index).count() == 2

    def test_failed_build_removes_the_index_and_returns_its_changes(
        self, user_client, built_reference, settings, tmp_path, django_capture_on_commit_callbacks
    ):
        script = tmp_path / "bowtie2-build"
        script.write_text("#!/bin/sh\necho 'Error: reference is broken' >&2\nexit 3\n")
        script.chmod(script.stat().st_mode | stat.S_IEXEC)
        settings.BOWTIE2_BUILD_PATH = str(script)
        with django_capture_on_commit_callbacks(execute=True):
            response = user_client.post(build_url(built_reference))
        body = response.json()
        assert not Index.objects.filter(id=body["id"]).exists()
        assert not IndexFile.objects.exists()
        assert not index_directory(Index(id=body["id"], reference=built_reference)).exists()
        assert set(Change.objects.values_list("index_id", flat=True)) == {None}
        job = Job.objects.get(id=body["job"]["id"])
        assert job.state == "error"
        assert job.error["message"] == "bowtie2-build failed with exit status 3"
        assert "Error: reference is broken" in job.error["stderr"]
        assert OTU.objects.filter(last_indexed_version__isnull=False).count() == 0
        # The reference can be built again.
        settings.BOWTIE2_BUILD_PATH = "bowtie2-build"
        again = self.build(user_client, built_reference, django_capture_on_commit_callbacks)
        again.refresh_from_db()
        assert again.ready and again.version == 0

    def test_missing_bowtie2_build_is_a_failed_build(self, user_client, built_reference, settings, django_capture_on_commit_callbacks):
        settings.BOWTIE2_BUILD_PATH = "/nonexistent/bowtie2-build"
        with django_capture_on_commit_callbacks(execute=True):
            body = user_client.post(build_url(built_reference)).json()
        assert not Index.objects.exists()
        assert Job.objects.get(id=body["job"]["id"]).error["message"].startswith("Could not run bowtie2-build")

    def test_redelivered_task_for_a_ready_index_does_nothing(self, user_client, built_reference, django_capture_on_commit_callbacks):
        index = self.build(user_client, built_reference, django_capture_on_commit_callbacks)
        path = index_directory(index) / "reference.1.bt2"
        before = path.stat().st_mtime_ns
        index_build(index_id=index.id)
        assert path.stat().st_mtime_ns == before
        assert IndexFile.objects.filter(index=index).count() == 8

    def test_redelivered_task_for_an_index_mid_build_starts_over(self, user_client, built_reference, django_capture_on_commit_callbacks):
        with django_capture_on_commit_callbacks(execute=False):
            response = user_client.post(build_url(built_reference))
        index = Index.objects.get(id=response.json()["id"])
        # A worker died part way: the job is running and some files are written.
        Job.objects.filter(id=index.job_id).update(state="running", progress=0.4)
        directory = index_directory(index)
        directory.mkdir(parents=True)
        (directory / "reference.fa").write_text(">half\nAC")
        (directory / "reference.1.bt2").write_bytes(b"partial")
        index_build(index_id=index.id)
        index.refresh_from_db()
        assert index.ready
        assert sorted(p.name for p in directory.iterdir()) == sorted(ALL_FILES)
        assert read_fasta_gz(directory / "reference.fa.gz") == default_sequences(built_reference)

    def test_redelivered_task_leaves_a_build_running_elsewhere_alone(self, user_client, built_reference, django_capture_on_commit_callbacks):
        import hashlib

        from django.db import connections

        require_postgresql()
        with django_capture_on_commit_callbacks(execute=False):
            response = user_client.post(build_url(built_reference))
        index_id = response.json()["id"]
        key = int.from_bytes(hashlib.sha256(f"index_build:{index_id}".encode()).digest()[:8], "big", signed=True)
        other = connections.create_connection("default")  # the worker that is still building
        try:
            with other.cursor() as cursor:
                cursor.execute("SELECT pg_try_advisory_lock(%s)", [key])
                assert cursor.fetchone()[0] is True
            index_build(index_id=index_id)
            assert not Index.objects.get(id=index_id).ready
            assert Job.objects.get(id=response.json()["job"]["id"]).state == "waiting"
        finally:
            other.close()
        index_build(index_id=index_id)
        assert Index.objects.get(id=index_id).ready

    def test_task_for_a_cancelled_job_removes_the_index(self, user_client, built_reference, django_capture_on_commit_callbacks):
        with django_capture_on_commit_callbacks(execute=False):
            response = user_client.post(build_url(built_reference))
        job_cancel(job_id=response.json()["job"]["id"])
        index_build(index_id=response.json()["id"])
        assert not Index.objects.exists()
        assert Job.objects.get(id=response.json()["job"]["id"]).state == "cancelled"
        assert set(Change.objects.values_list("index_id", flat=True)) == {None}

    def test_a_built_change_can_no_longer_be_reverted(self, user_client, built_reference, django_capture_on_commit_callbacks):
        index = self.build(user_client, built_reference, django_capture_on_commit_callbacks)
        change = Change.objects.filter(index=index).first()
        response = user_client.delete(f"/api/history/{change.id}")
        assert response.status_code == 409
        assert response.json() == {"id": "conflict", "message": "Not unbuilt"}

    def test_task_for_a_deleted_index_does_nothing(self):
        index_build(index_id="gone1234")

    def test_only_the_references_own_otus_are_built(self, user_client, built_reference, django_capture_on_commit_callbacks):
        other = ReferenceFactory(user=built_reference.user)
        otu_create(other, name="Elsewhere virus")
        index = self.build(user_client, built_reference, django_capture_on_commit_callbacks)
        assert len(index.manifest) == 3
        assert Change.objects.filter(reference_id=other.id, index__isnull=True).count() == 1


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("needs_postgresql")
def test_concurrent_build_requests_create_one_build(client_for, user):
    """Builds of one reference are serialized on its row: one 201, the rest 409."""
    import threading

    from django.db import connection

    require_postgresql()
    reference = ReferenceFactory(user=user)
    for position in range(3):
        otu_create(reference, name=f"Race virus {position}")
    barrier = threading.Barrier(3)
    statuses = []

    def post():
        try:
            barrier.wait()
            response = client_for(user).post(build_url(reference), {"runner": "external"}, format="json")
            statuses.append(response.status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=post) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [201, 409, 409]
    assert Index.objects.count() == 1
    assert set(Change.objects.values_list("index_id", flat=True)) == {Index.objects.get().id}


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("needs_postgresql")
def test_a_reference_deleted_during_its_build_ends_the_job_and_leaves_no_index_or_files(client_for, user, settings):
    """The deletion commits while the build reads the FASTA: no index, no stored files, and
    the job ends in error instead of running forever."""
    import threading

    from django.db import connection, connections

    from refs.processes.delete import reference_delete_run
    from refs.services.reference_processes import reference_delete

    require_postgresql()
    reference = ReferenceFactory(user=user)
    otu_create(reference, name="Deleted virus")
    response = client_for(user).post(build_url(reference), {"runner": "external"}, format="json")
    # Built by the task here (the external runner only keeps the request from queueing it).
    index_id, job_id = response.json()["id"], response.json()["job"]["id"]

    def delete():
        try:
            process = reference_delete(user=user, reference=reference, queue=False)
            reference_delete_run(reference_id=reference.id, process_id=process.id)
        finally:
            connections.close_all()

    deleted = []

    def delete_while_reading(execute, sql, params, many, context):
        if not deleted and "refs_sequence" in sql:
            deleted.append(True)
            thread = threading.Thread(target=delete)
            thread.start()
            thread.join()
        return execute(sql, params, many, context)

    with connection.execute_wrapper(delete_while_reading):
        index_build(index_id=index_id)
    assert deleted
    assert not Index.objects.filter(id=index_id).exists()
    assert Job.objects.get(id=job_id).state == Job.State.ERROR
    stored = Path(settings.DATA_DIR) / "references" / reference.id
    assert not stored.exists() or not any(stored.rglob("*"))


def test_a_build_task_for_an_index_removed_before_it_ran_ends_its_job(user_client, built_reference, user, django_capture_on_commit_callbacks):
    from refs.processes.delete import reference_delete_run
    from refs.services.reference_processes import reference_delete

    with django_capture_on_commit_callbacks(execute=False):
        response = user_client.post(build_url(built_reference), {}, format="json")
    index_id, job_id = response.json()["id"], response.json()["job"]["id"]
    process = reference_delete(user=user, reference=built_reference, queue=False)
    reference_delete_run(reference_id=built_reference.id, process_id=process.id)
    index_build(index_id=index_id)
    assert not Index.objects.filter(id=index_id).exists()
    assert Job.objects.get(id=job_id).state == Job.State.ERROR
