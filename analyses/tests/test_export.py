import csv
import io
import statistics

import openpyxl
import pytest

from analyses.models import Analysis, Workflow
from analyses.tests.factories import (
    AnalysisFactory,
    IsolateFactory,
    OTUFactory,
    SequenceFactory,
    nuvs_results,
    pathoscope_hit,
    pathoscope_results,
)
from history.services import change_record
from refs.documents import otu_document_load
from refs.models import OTU, Sequence

pytestmark = pytest.mark.django_db

HEADERS = ["OTU", "Isolate", "Sequence", "Length", "Weight", "Median Depth", "Coverage"]


@pytest.fixture
def analysis(sample, otu_sequences):
    a, b, c = otu_sequences
    results = pathoscope_results(
        [
            pathoscope_hit(a, pi=0.61, reads=2000, coverage=0.93, depth=40.2, align=[3, 7, 7, 12, 50]),
            pathoscope_hit(b, pi=0.14, reads=400, coverage=0.5, depth=8.5, align=None),
            pathoscope_hit(c, pi=0.25, reads=900, coverage=1, depth=17, align=[4, 9, 2, 8]),
        ]
    )
    return AnalysisFactory(sample=sample, ready=True, results=results)


def expected_rows(analysis, names):
    """names: per hit, (OTU name, isolate name, accession, length)."""
    rows = []
    for hit, (otu, isolate, accession, length) in zip(analysis.results["hits"], names):
        depth = statistics.median(hit["align"]) if hit["align"] else hit["depth"]
        rows.append([otu, isolate, accession, length, hit["final"]["pi"], depth, hit["coverage"]])
    return rows


def read_csv(response) -> list[list[str]]:
    assert response.status_code == 200
    assert response.streaming
    text = b"".join(response.streaming_content).decode()
    return list(csv.reader(io.StringIO(text)))


def as_csv_cells(rows):
    return [["" if value is None else str(value) for value in row] for row in rows]


def read_xlsx(response):
    assert response.status_code == 200
    return openpyxl.load_workbook(io.BytesIO(b"".join(response.streaming_content)))


def current_names(otu_sequences):
    a, b, c = otu_sequences
    return [
        ("Grapevine leafroll virus 3", "Isolate WA-MR", "NC_004667.1", 1200),
        ("Grapevine leafroll virus 3", "Isolate WA-MR", "NC_004668.1", 1200),
        ("Tobacco mosaic virus", "Strain U1", "NC_001367.1", 1200),
    ]


def test_csv_has_one_row_per_hit_sequence(owner_client, analysis, otu_sequences):
    response = owner_client.get(f"/api/analyses/document/{analysis.id}.csv")
    assert response["Content-Type"].startswith("text/csv")
    assert response["Content-Disposition"] == f'attachment; filename="{analysis.id}.csv"'
    rows = read_csv(response)
    assert rows[0] == HEADERS
    assert rows[1:] == as_csv_cells(expected_rows(analysis, current_names(otu_sequences)))
    # Median depth from the per-position depths when sent, else the runner's depth.
    assert rows[1][5] == "7" and rows[2][5] == "8.5" and rows[3][5] == "6.0"


def test_xlsx_has_a_bold_header_a_sequence_sheet_and_an_otu_summary_sheet(owner_client, analysis, otu_sequences):
    response = owner_client.get(f"/api/analyses/document/{analysis.id}.xlsx")
    assert response["Content-Type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert response["Content-Disposition"] == f'attachment; filename="{analysis.id}.xlsx"'
    workbook = read_xlsx(response)
    assert workbook.sheetnames == ["Sequences", "OTUs"]

    sequences = workbook["Sequences"]
    values = [list(row) for row in sequences.iter_rows(values_only=True)]
    assert values[0] == HEADERS
    assert all(cell.font.b for cell in sequences[1])
    assert not any(cell.font.b for cell in sequences[2])
    assert values[1:] == expected_rows(analysis, current_names(otu_sequences))

    otus = workbook["OTUs"]
    summary = [list(row) for row in otus.iter_rows(values_only=True)]
    assert summary[0] == ["OTU", "Abbreviation", "Version", "Isolates", "Sequences", "Weight", "Reads", "Best Coverage"]
    assert all(cell.font.b for cell in otus[1])
    glrav, tmv = summary[1], summary[2]
    assert glrav[:5] == ["Grapevine leafroll virus 3", "GLRaV3", 0, 1, 2]
    assert glrav[5] == pytest.approx(0.75) and glrav[6] == 2400 and glrav[7] == pytest.approx(0.93)
    assert tmv == ["Tobacco mosaic virus", "TMV", 0, 1, 1, 0.25, 900, 1]


def test_names_come_from_the_otu_as_it_was_at_the_hits_version(owner_client, owner, analysis, otu_sequences):
    a, b, c = otu_sequences
    before = otu_document_load(a.otu_id)
    OTU.objects.filter(id=a.otu_id).update(name="Grapevine leafroll-associated virus 3", version=1)
    Sequence.objects.filter(id=a.id).update(accession="NC_999999.1", sequence="ACGT" * 10)
    change_record(method_name="edit", description="Renamed", old=before, new=otu_document_load(a.otu_id), user=owner)

    rows = read_csv(owner_client.get(f"/api/analyses/document/{analysis.id}.csv"))
    assert rows[1][:4] == ["Grapevine leafroll virus 3", "Isolate WA-MR", "NC_004667.1", "1200"]
    workbook = read_xlsx(owner_client.get(f"/api/analyses/document/{analysis.id}.xlsx"))
    assert [r[:4] for r in workbook["Sequences"].iter_rows(min_row=2, max_row=2, values_only=True)] == [
        ("Grapevine leafroll virus 3", "Isolate WA-MR", "NC_004667.1", 1200)
    ]
    # A hit on the new version shows the new names.
    later = AnalysisFactory(
        sample=analysis.sample, ready=True, results=pathoscope_results([pathoscope_hit(Sequence.objects.get(id=a.id))])
    )
    rows = read_csv(owner_client.get(f"/api/analyses/document/{later.id}.csv"))
    assert rows[1][:4] == ["Grapevine leafroll-associated virus 3", "Isolate WA-MR", "NC_999999.1", "40"]


def test_a_removed_otu_is_named_from_its_removal_record(owner_client, owner, analysis, otu_sequences):
    c = otu_sequences[2]
    document = otu_document_load(c.otu_id)
    change_record(method_name="remove", description="Removed", old=document, new=None, user=owner)
    OTU.objects.filter(id=c.otu_id).delete()
    rows = read_csv(owner_client.get(f"/api/analyses/document/{analysis.id}.csv"))
    assert rows[3][:4] == ["Tobacco mosaic virus", "Strain U1", "NC_001367.1", "1200"]


def test_after_the_reference_is_deleted_rows_carry_the_stored_ids(owner_client, analysis, otu_sequences, reference):
    a, b, c = otu_sequences
    reference.delete()
    rows = read_csv(owner_client.get(f"/api/analyses/document/{analysis.id}.csv"))
    assert rows[1][:4] == [a.otu_id, "Unknown Isolate", a.id, "5"]  # length from the depth list
    assert rows[2][:4] == [b.otu_id, "Unknown Isolate", b.id, ""]
    workbook = read_xlsx(owner_client.get(f"/api/analyses/document/{analysis.id}.xlsx"))
    assert workbook["Sequences"].max_row == 4


def test_export_answers_any_accept_header(owner_client, analysis):
    response = owner_client.get(f"/api/analyses/document/{analysis.id}.csv", HTTP_ACCEPT="text/csv")
    assert response.status_code == 200


def test_export_of_many_hits_runs_a_bounded_number_of_queries(owner_client, sample, reference, django_assert_max_num_queries):
    hits = []
    for n in range(40):
        otu = OTUFactory(reference=reference)
        isolate = IsolateFactory(otu=otu)
        for position in range(3):
            hits.append(pathoscope_hit(SequenceFactory(isolate=isolate, position=position, sequence="ACGT" * 50)))
    analysis = AnalysisFactory(sample=sample, ready=True, results=pathoscope_results(hits))
    with django_assert_max_num_queries(6):
        rows = read_csv(owner_client.get(f"/api/analyses/document/{analysis.id}.csv"))
    assert len(rows) == 121
    with django_assert_max_num_queries(6):
        workbook = read_xlsx(owner_client.get(f"/api/analyses/document/{analysis.id}.xlsx"))
    assert workbook["Sequences"].max_row == 121 and workbook["OTUs"].max_row == 41


def test_export_of_an_empty_result_has_only_headers(owner_client, sample):
    analysis = AnalysisFactory(sample=sample, ready=True, results=pathoscope_results([]))
    assert read_csv(owner_client.get(f"/api/analyses/document/{analysis.id}.csv")) == [HEADERS]
    assert read_xlsx(owner_client.get(f"/api/analyses/document/{analysis.id}.xlsx"))["Sequences"].max_row == 1


def test_export_of_a_missing_analysis_is_404(owner_client):
    for extension in ("csv", "xlsx"):
        response = owner_client.get(f"/api/analyses/document/nothere.{extension}")
        assert response.status_code == 404
        assert response.json() == {"id": "not_found", "message": "Not found"}


def test_export_in_another_format_is_404(owner_client, analysis):
    assert owner_client.get(f"/api/analyses/document/{analysis.id}.pdf").status_code == 404


def test_export_of_a_nuvs_analysis_is_409(owner_client, sample):
    analysis = AnalysisFactory(sample=sample, ready=True, workflow=Workflow.NUVS, results=nuvs_results(["ACGT"]))
    response = owner_client.get(f"/api/analyses/document/{analysis.id}.csv")
    assert response.status_code == 409
    assert response.json()["message"] == "Not a Pathoscope analysis"


def test_export_of_a_running_analysis_is_409(owner_client, sample):
    analysis = AnalysisFactory(sample=sample)
    response = owner_client.get(f"/api/analyses/document/{analysis.id}.xlsx")
    assert response.status_code == 409
    assert response.json()["message"] == "Analysis is still running"


def test_export_of_an_analysis_whose_sample_is_gone_is_400(owner_client, analysis):
    Analysis.objects.filter(id=analysis.id).update(sample=None)
    response = owner_client.get(f"/api/analyses/document/{analysis.id}.csv")
    assert response.status_code == 400
    assert response.json()["message"] == "Parent sample does not exist"


def _edited(sequence, owner) -> None:
    """The sequence's OTU moves past the version the hits name (its change recorded)."""
    before = otu_document_load(sequence.otu_id)
    OTU.objects.filter(id=sequence.otu_id).update(name=f"Renamed {sequence.otu_id}", version=1)
    change_record(method_name="edit", description="Renamed", old=before, new=otu_document_load(sequence.otu_id), user=owner)


def test_the_analysis_document_runs_a_fixed_number_of_queries_whatever_its_hits(
    owner_client, owner, sample, reference, django_assert_num_queries
):
    """The analysis, its files, the hits' OTUs and sequences; and, when some OTUs changed since
    the hits' version, their current documents (two) and their later changes (one)."""

    def analysis_of(otu_count: int, edited: int):
        hits = []
        for n in range(otu_count):
            isolate = IsolateFactory(otu=OTUFactory(reference=reference))
            sequences = [SequenceFactory(isolate=isolate, position=p, sequence="ACGT" * 50) for p in range(3)]
            hits.extend(pathoscope_hit(sequence) for sequence in sequences)
            if n < edited:
                _edited(sequences[0], owner)
        return AnalysisFactory(sample=sample, ready=True, results=pathoscope_results(hits))

    for edited, queries in ((0, 3), (1, 6)):
        small, large = analysis_of(1, edited), analysis_of(40, edited * 10)
        for analysis in (small, large):
            with django_assert_num_queries(queries):
                document = owner_client.get(f"/api/analyses/{analysis.id}").json()
            names = {hit["otu"]["name"] for hit in document["results"]["hits"]}
            assert not any(name.startswith("Renamed") for name in names)


@pytest.fixture
def formula_analysis(sample, reference):
    """Names a spreadsheet would run as formulas: OTU, abbreviation, isolate, accession, and
    an unknown hit whose row carries the runner's OTU and sequence ids."""
    otu = OTUFactory(reference=reference, name='=HYPERLINK("http://evil.example","Click")', abbreviation="+AB")
    isolate = IsolateFactory(otu=otu, source_type="unknown", source_name="x")
    sequence = SequenceFactory(isolate=isolate, position=0, accession="-2+3")
    hit = pathoscope_hit(sequence)
    unknown = {**hit, "id": "@SUM(A1)", "otu": {"id": "\t=1+1", "version": 0}}
    return AnalysisFactory(sample=sample, ready=True, results=pathoscope_results([hit, unknown]))


def test_csv_writes_formula_like_values_as_text_with_a_leading_apostrophe(owner_client, formula_analysis):
    rows = read_csv(owner_client.get(f"/api/analyses/document/{formula_analysis.id}.csv"))
    assert rows[1][0] == "'=HYPERLINK(\"http://evil.example\",\"Click\")"
    assert rows[1][2] == "'-2+3"
    assert rows[2][0] == "'\t=1+1" and rows[2][2] == "'@SUM(A1)"
    assert rows[1][3:] == ["1200", "0.5", "12.5", "0.8"]


def test_xlsx_writes_formula_like_values_as_text_cells_with_their_value_unchanged(owner_client, formula_analysis):
    workbook = read_xlsx(owner_client.get(f"/api/analyses/document/{formula_analysis.id}.xlsx"))
    sequences = workbook["Sequences"]
    first, unknown = sequences[2], sequences[3]
    assert (first[0].value, first[0].data_type) == ('=HYPERLINK("http://evil.example","Click")', "s")
    assert (first[2].value, first[2].data_type) == ("-2+3", "s")
    assert (unknown[0].value, unknown[0].data_type) == ("\t=1+1", "s")
    assert (unknown[2].value, unknown[2].data_type) == ("@SUM(A1)", "s")
    assert (first[3].value, first[3].data_type) == (1200, "n")
    formulas = [cell.coordinate for sheet in workbook for row in sheet.iter_rows() for cell in row if cell.data_type == "f"]
    assert formulas == []
    summary = workbook["OTUs"][2]
    assert (summary[0].data_type, summary[1].value, summary[1].data_type) == ("s", "+AB", "s")


def test_xlsx_export_of_names_with_control_characters_drops_them_instead_of_failing(owner_client, sample, reference):
    sample.name = "Grape\x01vine"
    sample.save()
    isolate = IsolateFactory(otu=OTUFactory(reference=reference, name="Beet\x1bvirus"))
    hit = pathoscope_hit(SequenceFactory(isolate=isolate, position=0))
    unknown = {**hit, "id": "seq\x02x", "otu": {"id": "otu\x03x", "version": 0}}
    analysis = AnalysisFactory(sample=sample, ready=True, results=pathoscope_results([hit, unknown]))
    workbook = read_xlsx(owner_client.get(f"/api/analyses/document/{analysis.id}.xlsx"))
    values = [list(row) for row in workbook["Sequences"].iter_rows(values_only=True)]
    assert values[1][0] == "Beetvirus" and values[2][:3] == ["otux", "Unknown Isolate", "seqx"]
    assert workbook.properties.title == "Pathoscope Grapevine"
