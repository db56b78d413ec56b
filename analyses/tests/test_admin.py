"""The samples, analyses and BLAST admin: sample rights as in the API, writes through the
services, and working links to the CSV/Excel documents and analysis files."""

import pytest

from analyses.models import Analysis, AnalysisFile, NuVsBlast, Sample, Workflow
from analyses.services import analysis_file_path
from analyses.tests.factories import (
    AnalysisFactory,
    NuVsBlastFactory,
    SampleFactory,
    nuvs_results,
    pathoscope_hit,
    pathoscope_results,
)
from refs.tests.admin_helpers import messages_of
from virtool_site.models import Job

pytestmark = pytest.mark.django_db

SAMPLES = "/admin/analyses/sample/"
ANALYSES = "/admin/analyses/analysis/"
BLASTS = "/admin/analyses/nuvsblast/"


@pytest.fixture
def staff_owner(owner):
    owner.is_staff = True
    owner.save(update_fields=["is_staff"])
    return owner


@pytest.fixture
def web(client, staff_owner):
    client.force_login(staff_owner)
    return client


@pytest.fixture
def analysis(sample, otu_sequences):
    a, b, c = otu_sequences
    results = pathoscope_results([pathoscope_hit(a, align=[3, 7, 12]), pathoscope_hit(c, align=None)])
    return AnalysisFactory(sample=sample, ready=True, results=results)


@pytest.fixture
def analysis_file(analysis):
    analysis_file = AnalysisFile.objects.create(
        analysis=analysis, name="reads.fq", name_on_disk="1-reads.fq", format="fastq", size=12
    )
    path = analysis_file_path(analysis_file)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"@r1\nACGT\n+\n!!!!\n")
    return analysis_file


# Samples ------------------------------------------------------------------------------------------


def test_sample_list_and_search(web, sample, user_factory):
    SampleFactory(name="Hidden", user=user_factory(username="other"))
    response = web.get(SAMPLES)
    assert [s.name for s in response.context["cl"].result_list] == ["Grapevine 1"]
    assert [s.name for s in web.get(SAMPLES, {"q": "grape"}).context["cl"].result_list] == ["Grapevine 1"]
    assert web.get(f"{SAMPLES}{sample.pk}/change/").status_code == 200


def test_sample_edit_goes_through_sample_update(web, sample):
    data = _sample_form(sample, host="Vitis riparia", all_read="on")
    response = web.post(f"{SAMPLES}{sample.pk}/change/", data)
    assert response.status_code == 302, response.context and response.context["adminform"].form.errors
    sample.refresh_from_db()
    assert sample.host == "Vitis riparia" and sample.all_read


def test_a_name_in_use_is_refused(web, sample, staff_owner):
    SampleFactory(name="Taken", user=staff_owner)
    response = web.post(f"{SAMPLES}{sample.pk}/change/", _sample_form(sample, name="Taken"))
    assert response.status_code == 200 and "already exists" in response.content.decode()
    sample.refresh_from_db()
    assert sample.name == "Grapevine 1"


@pytest.mark.parametrize("field", ["name", "host", "isolate", "locale"])
def test_sample_edit_refuses_control_characters_as_the_api_does(web, sample, field):
    before = Sample.objects.filter(pk=sample.pk).values().get()
    response = web.post(f"{SAMPLES}{sample.pk}/change/", _sample_form(sample, **{field: "bell\x07"}))
    assert response.status_code == 200 and field in response.context["adminform"].form.errors
    assert Sample.objects.filter(pk=sample.pk).values().get() == before


def test_add_sample_refuses_control_characters_as_the_api_does(web, staff_owner):
    response = web.post(f"{SAMPLES}add/", {"name": "Grape\x1bvine", "library_type": "normal", "notes": ""})
    assert response.status_code == 200 and "name" in response.context["adminform"].form.errors
    assert not Sample.objects.filter(name__startswith="Grape").exists()


def test_only_the_owner_changes_sample_rights(client, user_factory, sample):
    writer = user_factory(username="writer", is_staff=True)
    Sample.objects.filter(pk=sample.pk).update(all_write=True)
    sample.refresh_from_db()
    client.force_login(writer)
    response = client.post(f"{SAMPLES}{sample.pk}/change/", _sample_form(sample, all_read="on", group_write="on"))
    assert messages_of(response) == ["Insufficient rights"]
    sample.refresh_from_db()
    assert not sample.group_write
    response = client.post(f"{SAMPLES}{sample.pk}/change/", _sample_form(sample, host="Vitis labrusca"))
    assert response.status_code == 302
    sample.refresh_from_db()
    assert sample.host == "Vitis labrusca"


def test_samples_others_may_not_read_are_hidden(client, user_factory, sample):
    staff = user_factory(username="nosy", is_staff=True)
    client.force_login(staff)
    assert list(client.get(SAMPLES).context["cl"].result_list) == []
    assert client.get(f"{SAMPLES}{sample.pk}/change/").status_code == 302
    Sample.objects.filter(pk=sample.pk).update(all_read=True)
    assert client.post(f"{SAMPLES}{sample.pk}/change/", _sample_form(sample, host="X")).status_code == 403


def test_add_sample_uses_sample_create(web, staff_owner):
    response = web.post(f"{SAMPLES}add/", _sample_form(Sample(name="New sample", library_type="normal")))
    assert response.status_code == 302
    assert Sample.objects.get(name="New sample").user == staff_owner


def test_delete_sample_removes_its_analyses(web, sample, analysis):
    response = web.post(f"{SAMPLES}{sample.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert not Sample.objects.filter(pk=sample.pk).exists()
    assert not Analysis.objects.filter(pk=analysis.pk).exists()


# Analyses ------------------------------------------------------------------------------------------


def test_analysis_list_links_to_the_csv_and_excel_documents(web, analysis):
    response = web.get(ANALYSES)
    assert [a.id for a in response.context["cl"].result_list] == [analysis.id]
    content = response.content.decode()
    csv_link, xlsx_link = f"/api/analyses/document/{analysis.id}.csv", f"/api/analyses/document/{analysis.id}.xlsx"
    assert csv_link in content and xlsx_link in content
    csv = web.get(csv_link)
    assert csv.status_code == 200 and b"".join(csv.streaming_content).startswith(b"OTU,Isolate")
    assert web.get(xlsx_link).status_code == 200


def test_analysis_page_shows_files_with_working_links(web, analysis, analysis_file):
    content = web.get(f"{ANALYSES}{analysis.pk}/change/").content.decode()
    link = f"/api/analyses/{analysis.id}/files/{analysis_file.pk}"
    assert link in content and "2 hit(s)" in content
    assert f"/api/analyses/document/{analysis.id}.csv" in content
    download = web.get(link)
    assert download.status_code == 200 and b"".join(download.streaming_content).startswith(b"@r1")


def test_analyses_are_read_only_but_removable_through_the_service(web, analysis):
    assert web.get(f"{ANALYSES}add/").status_code == 403
    assert "_save" not in web.get(f"{ANALYSES}{analysis.pk}/change/").content.decode()
    response = web.post(f"{ANALYSES}{analysis.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert not Analysis.objects.filter(pk=analysis.pk).exists()


def test_removing_a_running_analysis_is_refused_with_the_api_message(web, sample, staff_owner):
    job = Job.objects.create(workflow="pathoscope_bowtie", user=staff_owner, state=Job.State.RUNNING)
    running = AnalysisFactory(sample=sample, ready=False, job=job)
    response = web.post(f"{ANALYSES}{running.pk}/delete/", {"post": "yes"})
    assert messages_of(response) == ["Analysis is still running"]
    assert Analysis.objects.filter(pk=running.pk).exists()


def test_staff_see_only_analyses_of_samples_they_may_read(client, user_factory, analysis):
    staff = user_factory(username="nosy", is_staff=True)
    client.force_login(staff)
    assert list(client.get(ANALYSES).context["cl"].result_list) == []
    assert client.get(f"{ANALYSES}{analysis.pk}/change/").status_code == 302


# BLAST records --------------------------------------------------------------------------------


def test_blast_records_list_and_detail(web, sample):
    nuvs = AnalysisFactory(sample=sample, workflow=Workflow.NUVS, ready=True, results=nuvs_results(["ACGT" * 20]))
    blast = NuVsBlastFactory(analysis=nuvs, sequence_index=0, ready=True, rid="RID1", result={"hits": [{"name": "x"}]})
    response = web.get(BLASTS)
    assert [b.id for b in response.context["cl"].result_list] == [blast.id]
    content = web.get(f"{BLASTS}{blast.pk}/change/").content.decode()
    assert "RID1" in content and "&quot;hits&quot;" in content
    assert f"/admin/analyses/nuvsblast/{blast.pk}/change/" in web.get(f"{ANALYSES}{nuvs.pk}/change/").content.decode()
    assert web.get(f"{BLASTS}add/").status_code == 403
    assert NuVsBlast.objects.count() == 1


# Helpers ------------------------------------------------------------------------------------------


def _sample_form(sample, **changes) -> dict:
    data = {
        "name": sample.name,
        "host": sample.host,
        "isolate": sample.isolate,
        "locale": sample.locale,
        "notes": sample.notes,
        "library_type": sample.library_type,
        "group": sample.group_id or "",
    }
    for flag in ("group_read", "group_write", "all_read", "all_write"):
        if getattr(sample, flag):
            data[flag] = "on"
    data.update(changes)
    return data
