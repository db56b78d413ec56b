"""NuVs contig BLAST with the local backend: a real blastn against a real makeblastdb database."""

import pytest
from django.core.management import CommandError, call_command

from analyses import services
from analyses.blast import blast_db_current
from analyses.models import Analysis, NuVsBlast, Workflow
from analyses.tests.factories import (
    AnalysisFactory,
    IsolateFactory,
    OTUFactory,
    ReferenceFactory,
    SequenceFactory,
    nuvs_results,
    pathoscope_results,
    random_nucleotides,
)
from refs.models import Reference
from virtool_site.testing import wait_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def contigs(otu_sequences):
    """Contig 0 is cut from the second reference sequence; contig 1 matches nothing."""
    return [otu_sequences[1].sequence[200:700], random_nucleotides(400, seed=987654)]


@pytest.fixture
def nuvs(sample, contigs):
    return AnalysisFactory(sample=sample, workflow=Workflow.NUVS, ready=True, results=nuvs_results(contigs))


@pytest.fixture
def blast_db(otu_sequences):
    call_command("build_blast_db", stdout=open("/dev/null", "w"))
    return blast_db_current()


def blast(client, analysis_id, index, capture):
    with capture(execute=True):
        response = client.put(f"/api/analyses/{analysis_id}/{index}/blast", {}, format="json")
    return response


# Errors ------------------------------------------------------------------------------------


def test_blast_of_a_missing_analysis_is_404_analysis_not_found(owner_client):
    response = owner_client.put("/api/analyses/nothere/0/blast", {}, format="json")
    assert response.status_code == 404
    assert response.json() == {"id": "not_found", "message": "Analysis not found"}


def test_blast_of_a_missing_sequence_is_404_sequence_not_found(owner_client, nuvs):
    response = owner_client.put(f"/api/analyses/{nuvs.id}/7/blast", {}, format="json")
    assert response.status_code == 404
    assert response.json() == {"id": "not_found", "message": "Sequence not found"}
    assert not NuVsBlast.objects.exists()


def test_blast_of_a_stored_contig_index_past_the_integer_range_is_404_not_500(owner_client, sample):
    results = nuvs_results(["ACGT" * 20])
    results["hits"][0]["index"] = 3_000_000_000
    analysis = AnalysisFactory(sample=sample, workflow=Workflow.NUVS, ready=True, results=results)
    owner_client.raise_request_exception = False
    for index in (3_000_000_000, 10**30):
        response = owner_client.put(f"/api/analyses/{analysis.id}/{index}/blast", {}, format="json")
        assert response.status_code == 404
        assert response.json() == {"id": "not_found", "message": "Sequence not found"}
    assert owner_client.put(f"/api/analyses/{analysis.id}/-1/blast", {}, format="json").status_code == 404
    assert not NuVsBlast.objects.exists()


def test_blast_of_a_pathoscope_analysis_is_409(owner_client, sample):
    for ready in (True, False):
        analysis = AnalysisFactory(sample=sample, ready=ready, results=pathoscope_results([]) if ready else None)
        response = owner_client.put(f"/api/analyses/{analysis.id}/0/blast", {}, format="json")
        assert response.status_code == 409
        assert response.json() == {"id": "conflict", "message": "Not a NuVs analysis"}


def test_blast_of_a_running_nuvs_analysis_is_409(owner_client, sample):
    analysis = AnalysisFactory(sample=sample, workflow=Workflow.NUVS, ready=False)
    response = owner_client.put(f"/api/analyses/{analysis.id}/0/blast", {}, format="json")
    assert response.status_code == 409
    assert response.json() == {"id": "conflict", "message": "Analysis is still running"}


def test_blast_of_an_analysis_whose_sample_is_gone_is_400(owner_client, nuvs):
    Analysis.objects.filter(id=nuvs.id).update(sample=None)
    response = owner_client.put(f"/api/analyses/{nuvs.id}/0/blast", {}, format="json")
    assert response.status_code == 400
    assert response.json()["message"] == "Parent sample does not exist"


def test_blast_answers_rid_ready_last_checked_at_and_interval(owner_client, nuvs):
    response = owner_client.put(f"/api/analyses/{nuvs.id}/0/blast", {}, format="json")
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"rid", "ready", "last_checked_at", "interval"}
    assert body["rid"].startswith("local-") and body["ready"] is False and body["interval"] == 3
    assert body["last_checked_at"].endswith("Z")


# Real blastn -------------------------------------------------------------------------------


def test_blastn_finds_the_reference_sequence_a_contig_was_cut_from(owner_client, nuvs, blast_db, otu_sequences,
                                                                   django_capture_on_commit_callbacks):
    response = blast(owner_client, nuvs.id, 0, django_capture_on_commit_callbacks)
    assert response.status_code == 200
    record = NuVsBlast.objects.get(analysis=nuvs, sequence_index=0)
    assert record.error is None and record.ready, record.error
    top = record.result["hits"][0]
    source = otu_sequences[1]
    assert top["accession"] == source.accession == "NC_004668.1"
    assert top["name"] == "Grapevine leafroll virus 3"
    assert top["title"] == source.definition
    assert (top["identity"], top["align_len"], top["gaps"], top["len"]) == (500, 500, 0, 1200)
    assert top["evalue"] < 1e-100 and top["bit_score"] > 800 and top["score"] == 500
    assert set(top) == {"accession", "taxid", "title", "name", "len", "identity", "evalue", "align_len", "score",
                        "bit_score", "gaps"}

    # The document shows the BLAST under that contig only.
    hits = owner_client.get(f"/api/analyses/{nuvs.id}").json()["results"]["hits"]
    assert hits[1]["blast"] is None
    shown = hits[0]["blast"]
    assert set(shown) == {"rid", "ready", "last_checked_at", "interval", "result", "error"}
    assert shown["ready"] is True and shown["rid"] == record.rid and shown["error"] is None
    assert shown["result"]["hits"][0]["accession"] == "NC_004668.1"


def test_blastn_of_a_contig_matching_nothing_is_ready_without_hits(owner_client, nuvs, blast_db,
                                                                    django_capture_on_commit_callbacks):
    blast(owner_client, nuvs.id, 1, django_capture_on_commit_callbacks)
    record = NuVsBlast.objects.get(analysis=nuvs, sequence_index=1)
    assert record.ready and record.error is None and record.result["hits"] == []


def test_reblast_replaces_the_earlier_result(owner_client, nuvs, blast_db, django_capture_on_commit_callbacks):
    blast(owner_client, nuvs.id, 0, django_capture_on_commit_callbacks)
    first = NuVsBlast.objects.get()
    second_body = blast(owner_client, nuvs.id, 0, django_capture_on_commit_callbacks).json()
    second = NuVsBlast.objects.get()
    assert second.id != first.id and second.rid == second_body["rid"] != first.rid
    assert second.ready
    # The task of the replaced BLAST finds nothing left to do and writes nothing.
    assert services.blast_advance(blast_id=first.id) is None
    assert NuVsBlast.objects.count() == 1


def test_blast_with_an_explicit_blast_db_setting(owner_client, nuvs, blast_db, settings, data_dir,
                                                 django_capture_on_commit_callbacks):
    (data_dir / "blast" / "CURRENT").unlink()
    settings.BLAST_DB = blast_db
    blast(owner_client, nuvs.id, 0, django_capture_on_commit_callbacks)
    assert NuVsBlast.objects.get().result["hits"][0]["accession"] == "NC_004668.1"


def test_blast_without_a_database_stores_an_error(owner_client, nuvs, django_capture_on_commit_callbacks):
    body = blast(owner_client, nuvs.id, 0, django_capture_on_commit_callbacks).json()
    assert body["ready"] is False
    record = NuVsBlast.objects.get()
    assert not record.ready and "No BLAST database" in record.error
    shown = owner_client.get(f"/api/analyses/{nuvs.id}").json()["results"]["hits"][0]["blast"]
    assert shown["error"] == record.error


def test_blast_when_blastn_fails_stores_its_error(owner_client, nuvs, settings, django_capture_on_commit_callbacks):
    settings.BLAST_DB = "/nonexistent/db"
    blast(owner_client, nuvs.id, 0, django_capture_on_commit_callbacks)
    assert "blastn failed" in NuVsBlast.objects.get().error
    settings.BLASTN_PATH = "/nonexistent/blastn"
    blast(owner_client, nuvs.id, 0, django_capture_on_commit_callbacks)
    assert "blastn not found" in NuVsBlast.objects.get().error


@pytest.mark.worker
@pytest.mark.slow
def test_a_real_worker_runs_blastn(celery_worker, client_for, owner, otu_sequences, contigs, sample):
    call_command("build_blast_db", stdout=open("/dev/null", "w"))
    analysis = AnalysisFactory(sample=sample, workflow=Workflow.NUVS, ready=True, results=nuvs_results(contigs))
    response = client_for(owner).put(f"/api/analyses/{analysis.id}/0/blast", {}, format="json")
    assert response.status_code == 200
    record = wait_for(
        lambda: NuVsBlast.objects.filter(analysis=analysis, sequence_index=0).exclude(ready=False, error=None).first(),
        timeout=120,
        message=f"BLAST result\n{celery_worker.log()}",
    )
    assert record.ready, record.error
    assert record.result["hits"][0]["accession"] == "NC_004668.1"


# build_blast_db ----------------------------------------------------------------------------


def test_build_blast_db_builds_from_reference_sequences(otu_sequences, data_dir, capsys):
    call_command("build_blast_db")
    out = capsys.readouterr().out
    assert "Built BLAST database of 3 sequences" in out
    path = blast_db_current()
    assert path.startswith(str(data_dir / "blast"))
    assert list((data_dir / "blast").glob("db-*/references.n*"))


def test_rebuilding_switches_to_the_new_database_and_keeps_one_previous(otu_sequences, data_dir):
    paths = []
    for _ in range(3):
        call_command("build_blast_db", stdout=open("/dev/null", "w"))
        paths.append(blast_db_current())
    assert len(set(paths)) == 3
    kept = sorted(p.name for p in (data_dir / "blast").glob("db-*"))
    assert kept == sorted({paths[1].split("/")[-2], paths[2].split("/")[-2]})


def test_build_blast_db_for_chosen_references_and_never_deleted_ones(otu_sequences, reference, capsys):
    other = ReferenceFactory()
    SequenceFactory(isolate=IsolateFactory(otu=OTUFactory(reference=other)))
    gone = ReferenceFactory()
    SequenceFactory(isolate=IsolateFactory(otu=OTUFactory(reference=gone)))
    Reference.all_objects.filter(id=gone.id).update(deleted=True)
    call_command("build_blast_db", "--reference", reference.id)
    assert "of 3 sequences" in capsys.readouterr().out
    call_command("build_blast_db")
    assert "of 4 sequences" in capsys.readouterr().out


def test_build_blast_db_without_sequences_fails_cleanly(data_dir):
    with pytest.raises(CommandError, match="no reference sequences"):
        call_command("build_blast_db")
    assert blast_db_current() is None
    assert not list((data_dir / "blast").glob("db-*"))
