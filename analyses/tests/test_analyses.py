import re

import pytest

from analyses.models import Analysis, AnalysisFile, NuVsBlast, Sample, Workflow
from analyses.tests.factories import (
    AnalysisFactory,
    IndexFactory,
    NuVsBlastFactory,
    ReferenceFactory,
    SampleFactory,
    nuvs_results,
    pathoscope_hit,
    pathoscope_results,
)
from refs.models import Reference
from virtool_site.models import Job

pytestmark = pytest.mark.django_db


def create(client, sample, reference, workflow="pathoscope_bowtie", **extra):
    return client.post(
        f"/api/samples/{sample.id}/analyses", {"ref_id": reference.id, "workflow": workflow, **extra}, format="json"
    )


# Create ------------------------------------------------------------------------------------


def test_create_analysis_uses_the_latest_ready_index_and_creates_its_job(owner_client, owner, sample, reference):
    IndexFactory(reference=reference, version=0, ready=True)
    latest = IndexFactory(reference=reference, version=1, ready=True)
    IndexFactory(reference=reference, version=2, ready=False)
    response = create(owner_client, sample, reference, subtractions=["arabidop", "arabidop"])
    assert response.status_code == 201, response.json()
    body = response.json()
    assert response["Location"] == f"/api/analyses/{body['id']}"
    assert re.fullmatch(r"[a-z0-9]{8}", body["id"])
    assert body["ready"] is False and body["workflow"] == body["algorithm"] == "pathoscope_bowtie"
    assert body["index"] == {"id": latest.id, "version": 1}
    assert body["reference"] == {"id": reference.id, "name": "Plant viruses"}
    assert body["sample"] == {"id": sample.id, "name": sample.name}
    assert body["user"] == {"id": "owner"}
    assert body["subtractions"] == [{"id": "arabidop", "name": None}]
    job = Job.objects.get(id=body["job"]["id"])
    assert job.workflow == "pathoscope_bowtie" and job.user == owner and job.state == "waiting"
    assert job.args == {"analysis_id": body["id"], "sample_id": sample.id, "ref_id": reference.id,
                        "index_id": latest.id, "subtractions": ["arabidop"]}
    # The key is shown once and authenticates the runner of this job.
    assert body["job"]["key"]
    analysis = Analysis.objects.get(id=body["id"])
    assert analysis.job == job and analysis.results is None


def test_job_key_is_not_shown_again(owner_client, sample, reference, ready_index):
    body = create(owner_client, sample, reference).json()
    again = owner_client.get(f"/api/analyses/{body['id']}").json()
    assert again["job"] == {"id": body["job"]["id"]}


def test_create_analysis_on_a_reference_the_user_cannot_see_is_400(client_for, user_factory, sample, owner):
    hidden = ReferenceFactory(user=user_factory(), public=False)
    IndexFactory(reference=hidden)
    response = create(client_for(owner), sample, hidden)
    assert response.status_code == 400
    assert response.json() == {"id": "bad_request", "message": "Reference does not exist"}


def test_create_analysis_on_a_missing_or_deleted_reference_is_400(owner_client, sample, reference, ready_index):
    Reference.all_objects.filter(id=reference.id).update(deleted=True)
    assert create(owner_client, sample, reference).json()["message"] == "Reference does not exist"
    response = owner_client.post(f"/api/samples/{sample.id}/analyses", {"ref_id": "nothere", "workflow": "nuvs"}, format="json")
    assert response.status_code == 400


def test_create_analysis_without_a_ready_index_is_400(owner_client, sample, reference):
    IndexFactory(reference=reference, version=0, ready=False)
    response = create(owner_client, sample, reference)
    assert response.status_code == 400
    assert response.json()["message"] == "No ready index"


@pytest.mark.parametrize(
    "body, field",
    [({"workflow": "nuvs"}, "ref_id"), ({"ref_id": "x"}, "workflow"), ({"ref_id": "x", "workflow": "aodp"}, "workflow"),
     ({"ref_id": "x", "workflow": "nuvs", "subtractions": "abc"}, "subtractions")],
)
def test_create_analysis_with_invalid_input_is_422(owner_client, sample, body, field):
    response = owner_client.post(f"/api/samples/{sample.id}/analyses", body, format="json")
    assert response.status_code == 422
    assert field in response.json()["errors"]


def test_create_analysis_for_missing_sample_is_404(owner_client, reference, ready_index):
    response = owner_client.post("/api/samples/nothere/analyses", {"ref_id": reference.id, "workflow": "nuvs"}, format="json")
    assert response.status_code == 404


# List --------------------------------------------------------------------------------------


def test_list_analyses_of_a_sample(owner_client, sample, owner):
    other_sample = SampleFactory(user=owner)
    mine = [AnalysisFactory(sample=sample).id for _ in range(3)]
    AnalysisFactory(sample=other_sample)
    body = owner_client.get(f"/api/samples/{sample.id}/analyses").json()
    assert body["found_count"] == body["total_count"] == 3
    assert [d["id"] for d in body["documents"]] == list(reversed(mine))
    assert "results" not in body["documents"][0]


def test_list_analyses_of_a_missing_sample_is_404(owner_client):
    assert owner_client.get("/api/samples/nothere/analyses").status_code == 404


def test_list_analyses_runs_a_fixed_number_of_queries(owner_client, sample, django_assert_num_queries):
    for _ in range(25):
        AnalysisFactory(sample=sample, job=Job.objects.create(workflow="nuvs"))
    # the sample (with the user's right to read it), the page (with its found count)
    with django_assert_num_queries(2):
        assert len(owner_client.get(f"/api/samples/{sample.id}/analyses?per_page=5").json()["documents"]) == 5
    with django_assert_num_queries(2):
        assert len(owner_client.get(f"/api/samples/{sample.id}/analyses?per_page=25").json()["documents"]) == 25


# Get ---------------------------------------------------------------------------------------


def test_get_analysis_document(owner_client, sample, otu_sequences):
    a, b, c = otu_sequences
    results = pathoscope_results([pathoscope_hit(a, align=[1, 2, 3, 10]), pathoscope_hit(c)])
    analysis = AnalysisFactory(sample=sample, ready=True, results=results, subtractions=["yhxoynb0"])
    body = owner_client.get(f"/api/analyses/{analysis.id}").json()
    assert body["id"] == analysis.id and body["ready"] is True
    assert body["sample"] == {"id": sample.id, "name": sample.name}
    assert body["index"] == {"id": "indexxxx", "version": 0}
    assert body["reference"] == {"id": "reffffff", "name": "Plant viruses"}
    assert body["subtractions"] == [{"id": "yhxoynb0", "name": None}]
    assert body["files"] == []
    assert body["results"]["read_count"] == 23953
    first = body["results"]["hits"][0]
    assert first["final"] == results["hits"][0]["final"]
    assert first["otu"] == {"id": a.otu_id, "version": 0, "name": "Grapevine leafroll virus 3", "abbreviation": "GLRaV3"}
    assert first["isolate"] == {"id": "isoa0001", "name": "Isolate WA-MR"}
    assert (first["accession"], first["length"], first["median_depth"]) == ("NC_004667.1", 1200, 2.5)
    assert re.fullmatch(r".*\.\d{6}Z", body["created_at"])


def test_get_analysis_document_has_the_spec_top_level_read_count_and_diagnosis(owner_client, sample, otu_sequences):
    a, _, _ = otu_sequences
    analysis = AnalysisFactory(sample=sample, ready=True, results=pathoscope_results([pathoscope_hit(a)]))
    body = owner_client.get(f"/api/analyses/{analysis.id}").json()
    assert body["read_count"] == 23953 == body["results"]["read_count"]
    assert body["diagnosis"] == body["results"]["hits"] and len(body["diagnosis"]) == 1
    keys = list(body)
    assert keys.index("subtractions") < keys.index("read_count") < keys.index("diagnosis") < keys.index("results")


def test_get_unfinished_analysis_has_null_read_count_and_diagnosis(owner_client, sample):
    body = owner_client.get(f"/api/analyses/{AnalysisFactory(sample=sample).id}").json()
    assert (body["read_count"], body["diagnosis"], body["results"]) == (None, None, None)


def test_get_unfinished_analysis_has_null_results(owner_client, sample):
    analysis = AnalysisFactory(sample=sample)
    assert owner_client.get(f"/api/analyses/{analysis.id}").json()["results"] is None


def test_get_missing_analysis_is_404(owner_client):
    response = owner_client.get("/api/analyses/nothere")
    assert response.status_code == 404
    assert response.json() == {"id": "not_found", "message": "Not found"}


def test_get_analysis_whose_sample_is_gone_is_400(owner_client, sample):
    analysis = AnalysisFactory(sample=sample)
    Analysis.objects.filter(id=analysis.id).update(sample=None)
    Sample.objects.filter(id=sample.id).delete()
    response = owner_client.get(f"/api/analyses/{analysis.id}")
    assert response.status_code == 400
    assert response.json() == {"id": "bad_request", "message": "Parent sample does not exist"}


def test_analysis_keeps_reference_and_index_after_the_reference_is_deleted(owner_client, sample, reference, ready_index):
    analysis_id = create(owner_client, sample, reference).json()["id"]
    reference_id, index_id = reference.id, ready_index.id
    reference.delete()  # indexes, OTUs and all go with it
    body = owner_client.get(f"/api/analyses/{analysis_id}").json()
    assert body["reference"] == {"id": reference_id, "name": "Plant viruses"}
    assert body["index"] == {"id": index_id, "version": 0}


# Delete ------------------------------------------------------------------------------------


def test_delete_analysis_removes_it_with_files_and_blasts(owner_client, sample, data_dir, django_capture_on_commit_callbacks):
    analysis = AnalysisFactory(sample=sample, ready=True, workflow=Workflow.NUVS, results=nuvs_results(["ACGT"]))
    NuVsBlastFactory(analysis=analysis)
    AnalysisFile.objects.create(analysis=analysis, name="a.fa", name_on_disk="1-a.fa")
    folder = data_dir / "analyses" / analysis.id
    folder.mkdir(parents=True)
    (folder / "1-a.fa").write_text(">a\nACGT\n")
    with django_capture_on_commit_callbacks(execute=True):
        response = owner_client.delete(f"/api/analyses/{analysis.id}")
    assert response.status_code == 204
    assert not Analysis.objects.filter(id=analysis.id).exists()
    assert not NuVsBlast.objects.exists() and not AnalysisFile.objects.exists()
    assert not folder.exists()


def test_delete_running_analysis_is_409(owner_client, sample):
    analysis = AnalysisFactory(sample=sample, job=Job.objects.create(workflow="nuvs", state="running"))
    response = owner_client.delete(f"/api/analyses/{analysis.id}")
    assert response.status_code == 409
    assert response.json() == {"id": "conflict", "message": "Analysis is still running"}
    assert Analysis.objects.filter(id=analysis.id).exists()


@pytest.mark.parametrize("state", ["error", "cancelled"])
def test_delete_analysis_whose_job_ended_without_results(owner_client, sample, state):
    analysis = AnalysisFactory(sample=sample, job=Job.objects.create(workflow="nuvs", state=state))
    assert owner_client.delete(f"/api/analyses/{analysis.id}").status_code == 204


def test_delete_missing_analysis_is_404(owner_client):
    response = owner_client.delete("/api/analyses/nothere")
    assert response.status_code == 404
    assert response.json() == {"id": "not_found", "message": "Not found"}


def test_delete_analysis_whose_sample_is_gone_is_400(owner_client, sample):
    analysis = AnalysisFactory(sample=sample, ready=True)
    Analysis.objects.filter(id=analysis.id).update(sample=None)
    response = owner_client.delete(f"/api/analyses/{analysis.id}")
    assert response.status_code == 400
    assert response.json()["message"] == "Parent sample does not exist"


# Job API: results --------------------------------------------------------------------------


@pytest.fixture
def started(owner_client, sample, reference, ready_index, otu_sequences):
    def start(workflow):
        body = create(owner_client, sample, reference, workflow=workflow).json()
        return body["id"], body["job"]["id"], body["job"]["key"]

    return start


def test_job_stores_pathoscope_results_and_the_analysis_becomes_ready(started, job_client, otu_sequences):
    analysis_id, job_id, key = started("pathoscope_bowtie")
    results = pathoscope_results([pathoscope_hit(s, align=[0, 4, 4, 9]) for s in otu_sequences])
    response = job_client(job_id, key).patch(f"/api/analyses/{analysis_id}", {"results": results}, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["ready"] is True
    analysis = Analysis.objects.get(id=analysis_id)
    assert analysis.ready and analysis.results == results


def test_job_stores_nuvs_results(started, job_client):
    analysis_id, job_id, key = started("nuvs")
    results = nuvs_results(["ACGTTGCA", "GGGCCCAAT"])
    response = job_client(job_id, key).patch(f"/api/analyses/{analysis_id}", {"results": results}, format="json")
    assert response.status_code == 200
    body = response.json()
    assert [h["blast"] for h in body["results"]["hits"]] == [None, None]
    assert Analysis.objects.get(id=analysis_id).results == results


def test_job_may_read_its_own_analysis(started, job_client):
    analysis_id, job_id, key = started("nuvs")
    assert job_client(job_id, key).get(f"/api/analyses/{analysis_id}").status_code == 200


def test_another_job_may_not_store_results_or_read(started, job_client):
    analysis_id, _, _ = started("nuvs")
    _, other_job_id, other_key = started("nuvs")
    client = job_client(other_job_id, other_key)
    response = client.patch(f"/api/analyses/{analysis_id}", {"results": nuvs_results(["ACGT"])}, format="json")
    assert response.status_code == 403
    assert client.get(f"/api/analyses/{analysis_id}").status_code == 403
    assert Analysis.objects.get(id=analysis_id).ready is False


def test_users_may_not_store_results_even_the_owner(started, owner_client):
    analysis_id, _, _ = started("nuvs")
    response = owner_client.patch(f"/api/analyses/{analysis_id}", {"results": nuvs_results(["ACGT"])}, format="json")
    assert response.status_code == 403


def test_administrators_may_store_results(started, admin_client):
    analysis_id, _, _ = started("nuvs")
    response = admin_client.patch(f"/api/analyses/{analysis_id}", {"results": nuvs_results(["ACGT"])}, format="json")
    assert response.status_code == 200


def test_results_are_stored_once(started, job_client):
    analysis_id, job_id, key = started("nuvs")
    client = job_client(job_id, key)
    assert client.patch(f"/api/analyses/{analysis_id}", {"results": nuvs_results(["ACGT"])}, format="json").status_code == 200
    response = client.patch(f"/api/analyses/{analysis_id}", {"results": nuvs_results(["TTTT"])}, format="json")
    assert response.status_code == 409
    assert response.json()["message"] == "There is already a result for this analysis"
    assert Analysis.objects.get(id=analysis_id).results["hits"][0]["sequence"] == "ACGT"


def test_results_for_a_missing_analysis_are_404(admin_client):
    assert admin_client.patch("/api/analyses/nothere", {"results": {}}, format="json").status_code == 404


def test_a_finished_jobs_key_no_longer_works(started, job_client):
    analysis_id, job_id, key = started("nuvs")
    Job.objects.filter(id=job_id).update(state="cancelled")
    response = job_client(job_id, key).patch(f"/api/analyses/{analysis_id}", {"results": nuvs_results(["A"])}, format="json")
    assert response.status_code == 401


def _bad_pathoscope(otu_sequences):
    good = pathoscope_hit(otu_sequences[0])
    return [
        ({}, "results"),
        ({"results": None}, "results"),
        ({"results": {"hits": []}}, "read_count"),
        ({"results": pathoscope_results([{**good, "coverage": 1.5}])}, "coverage"),
        ({"results": pathoscope_results([{**good, "otu": {"id": "x"}}])}, "version"),
        ({"results": pathoscope_results([{**good, "final": {**good["final"], "pi": "high"}}])}, "pi"),
        ({"results": pathoscope_results([{**good, "align": [1, -2]}])}, "align"),
        ({"results": pathoscope_results([{**good, "depth": True}])}, "depth"),
        ({"results": nuvs_results(["ACGT"])}, "read_count"),
    ]


def test_invalid_pathoscope_results_are_422(started, job_client, otu_sequences):
    analysis_id, job_id, key = started("pathoscope_bowtie")
    client = job_client(job_id, key)
    for body, field in _bad_pathoscope(otu_sequences):
        response = client.patch(f"/api/analyses/{analysis_id}", body, format="json")
        assert response.status_code == 422, (body, response.json())
        assert field in str(response.json()["errors"]), (field, response.json())
    assert Analysis.objects.get(id=analysis_id).ready is False


def test_numbers_no_float_can_hold_are_422_not_stored_to_fail_every_later_read(
    started, job_client, owner_client, otu_sequences
):
    analysis_id, job_id, key = started("pathoscope_bowtie")
    client = job_client(job_id, key)
    a, b, _ = otu_sequences
    huge = pathoscope_hit(a, align=[10**400, 1])
    huge["final"]["pi"] = 10**400
    response = client.patch(f"/api/analyses/{analysis_id}", {"results": pathoscope_results([huge])}, format="json")
    assert response.status_code == 422
    assert "less than or equal to 9007199254740992" in str(response.json()["errors"])
    assert Analysis.objects.get(id=analysis_id).results is None
    # The largest allowed numbers, summed and averaged, still read and export.
    big = pathoscope_hit(a, reads=2**53, align=[2**53, 2**53 - 1], depth=2**53)
    big["final"]["pi"] = 2**53
    results = pathoscope_results([big, pathoscope_hit(b, pi=0.5)])
    assert client.patch(f"/api/analyses/{analysis_id}", {"results": results}, format="json").status_code == 200
    assert owner_client.get(f"/api/analyses/{analysis_id}").status_code == 200
    for extension in ("csv", "xlsx"):
        response = owner_client.get(f"/api/analyses/document/{analysis_id}.{extension}")
        assert response.status_code == 200 and b"".join(response.streaming_content)


@pytest.mark.parametrize(
    "results, problem",
    [
        ({"hits": [{"index": 0, "sequence": "ACGT"}]}, "orfs"),
        ({"hits": [{"index": 0, "sequence": "NOT DNA", "orfs": []}]}, "nucleotide"),
        ({"hits": [{"index": 0, "sequence": "ACGT", "orfs": []}, {"index": 0, "sequence": "AC", "orfs": []}]}, "unique"),
        ({"hits": [{"index": 0, "sequence": "ACGT", "orfs": [
            {"index": 0, "pro": "M", "frame": 1, "strand": 2, "pos": [0, 3], "hits": []}]}]}, "strand"),
        ({"hits": [{"index": 0, "sequence": "ACGT", "orfs": [
            {"index": 0, "pro": "M", "frame": 1, "strand": 1, "pos": [0], "hits": []}]}]}, "pos"),
        # A contig index no BLAST row could hold (PUT .../{index}/blast would fail).
        ({"hits": [{"index": 2**31, "sequence": "ACGT", "orfs": []}]}, "less than or equal to 2147483647"),
    ],
)
def test_invalid_nuvs_results_are_422(started, job_client, results, problem):
    analysis_id, job_id, key = started("nuvs")
    response = job_client(job_id, key).patch(f"/api/analyses/{analysis_id}", {"results": results}, format="json")
    assert response.status_code == 422
    assert problem in str(response.json()["errors"])


def test_results_for_an_analysis_whose_sample_is_gone_by_an_administrator_is_400(admin_client, sample):
    analysis = AnalysisFactory(sample=sample, workflow=Workflow.NUVS)
    Analysis.objects.filter(id=analysis.id).update(sample=None)
    response = admin_client.patch(f"/api/analyses/{analysis.id}", {"results": nuvs_results(["ACGT"])}, format="json")
    assert response.status_code == 400
    assert response.json()["message"] == "Parent sample does not exist"


def test_results_larger_than_the_request_limit_are_413(started, job_client, settings):
    analysis_id, job_id, key = started("nuvs")
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    results = nuvs_results(["ACGT" * 1000])
    response = job_client(job_id, key).patch(f"/api/analyses/{analysis_id}", {"results": results}, format="json")
    assert response.status_code == 413
    assert Analysis.objects.get(id=analysis_id).ready is False


def test_list_analyses_with_bad_paging_is_422(owner_client, sample):
    response = owner_client.get(f"/api/samples/{sample.id}/analyses?page=0")
    assert response.status_code == 422
    assert response.json()["message"] == "Invalid query"
