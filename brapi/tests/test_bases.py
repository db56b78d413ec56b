import pytest

from brapi.models import Reference
from brapi.tests.conftest import brava_validate
from brapi.tests.factories import ReferenceFactory, index_for, otu_with_sequences

pytestmark = pytest.mark.django_db


def _fasta_sequences(path) -> dict[str, str]:
    """Parse the FASTA file independently of the importer."""
    sequences: dict[str, list[str]] = {}
    name = None
    for line in path.read_text().splitlines():
        if line.startswith(">"):
            name = line[1:].split()[0]
            sequences[name] = []
        else:
            sequences[name].append(line.strip().upper())
    return {key: "".join(value) for key, value in sequences.items()}


def _reference(assembly, name: str) -> Reference:
    return assembly["set"].references.get(name=name)


def _bases(client, reference_id, **params):
    query = "&".join(f"{k}={v}" for k, v in params.items())
    return client.get(f"/brapi/v2/references/{reference_id}/bases?{query}")


def test_pages_through_a_chromosome_and_matches_the_fasta(anonymous_client, assembly, settings):
    settings.BRAPI_BASES_PAGE_SIZE = 10_000
    expected = _fasta_sequences(assembly["path"])["NC_000001.1"]
    reference = _reference(assembly, "NC_000001.1")
    collected = []
    token = None
    offsets = []
    while True:
        params = {"pageToken": token} if token else {}
        response = _bases(anonymous_client, reference.id, **params)
        assert response.status_code == 200
        body = response.json()
        brava_validate(body, "References/getReferencesReferencedbidBasesResponse")
        result = body["result"]
        offsets.append(result["offset"])
        collected.append(result["sequence"])
        token = result["nextPageToken"]
        if token is None:
            break
    assert "".join(collected) == expected
    assert offsets == list(range(0, 150_000, 10_000))
    assert body["metadata"]["pagination"] == {
        "currentPage": 14,
        "pageSize": 10_000,
        "totalCount": 150_000,
        "totalPages": 15,
    }


@pytest.mark.parametrize(
    "start,end",
    [(0, 1), (4095, 4097), (12_345, 20_000), (33_000, 33_500), (53_000, 53_333), (0, 53_333), (100, 100)],
)
def test_ranges_match_the_fasta(anonymous_client, assembly, settings, start, end):
    settings.BRAPI_BASES_PAGE_SIZE = 100_000
    expected = _fasta_sequences(assembly["path"])["chr2"]
    response = _bases(anonymous_client, _reference(assembly, "chr2").id, start=start, end=end)
    assert response.status_code == 200
    result = response.json()["result"]
    assert result["sequence"] == expected[start:end]
    assert result["offset"] == start
    assert result["nextPageToken"] is None


def test_range_is_paged_with_offsets(anonymous_client, assembly, settings):
    settings.BRAPI_BASES_PAGE_SIZE = 1000
    expected = _fasta_sequences(assembly["path"])["chr2"]
    reference = _reference(assembly, "chr2")
    first = _bases(anonymous_client, reference.id, start=2500, end=4700).json()["result"]
    assert first["offset"] == 2500 and first["sequence"] == expected[2500:3500]
    second = _bases(anonymous_client, reference.id, pageToken=first["nextPageToken"]).json()["result"]
    assert second["offset"] == 3500 and second["sequence"] == expected[3500:4500]
    third = _bases(anonymous_client, reference.id, start=2500, end=4700, pageToken=second["nextPageToken"]).json()
    assert third["result"]["offset"] == 4500 and third["result"]["sequence"] == expected[4500:4700]
    assert third["result"]["nextPageToken"] is None
    assert third["metadata"]["pagination"]["currentPage"] == 2
    assert third["metadata"]["pagination"]["totalPages"] == 3


def test_end_past_length_is_clamped(anonymous_client, assembly, settings):
    settings.BRAPI_BASES_PAGE_SIZE = 100_000
    expected = _fasta_sequences(assembly["path"])["chrM"]
    result = _bases(anonymous_client, _reference(assembly, "chrM").id, start=4000, end=10**12).json()["result"]
    assert result["sequence"] == expected[4000:]


def test_page_reads_only_the_chunks_it_covers(anonymous_client, assembly, settings, django_assert_num_queries):
    settings.BRAPI_BASES_PAGE_SIZE = 10_000
    reference = _reference(assembly, "NC_000001.1")
    # reference lookup, chunks of the page
    with django_assert_num_queries(2) as context:
        _bases(anonymous_client, reference.id, start=70_000)
    chunk_sql = context.captured_queries[-1]["sql"]
    assert "brapi_referencechunk" in chunk_sql
    assert "BETWEEN" in chunk_sql or ">=" in chunk_sql


@pytest.mark.parametrize(
    "params,message",
    [
        ({"start": -1}, "start"),
        ({"end": -5}, "end"),
        ({"start": 10, "end": 5}, "start"),
        ({"start": 150_000}, "past the end"),
        ({"start": "x"}, "start"),
        ({"end": "1.5"}, "end"),
        ({"pageToken": "forged"}, "pageToken"),
    ],
)
def test_bad_ranges_are_400(anonymous_client, assembly, params, message):
    response = _bases(anonymous_client, _reference(assembly, "NC_000001.1").id, **params)
    assert response.status_code == 400
    assert message in response.json()


def test_token_of_another_reference_is_refused(anonymous_client, assembly, settings):
    settings.BRAPI_BASES_PAGE_SIZE = 1000
    token = _bases(anonymous_client, _reference(assembly, "chr2").id).json()["result"]["nextPageToken"]
    response = _bases(anonymous_client, _reference(assembly, "NC_000001.1").id, pageToken=token)
    assert response.status_code == 400


def test_bases_not_found_and_private(anonymous_client, bearer_client, published):
    assert _bases(anonymous_client, "missing").status_code == 404
    assert _bases(anonymous_client, "missing").json() == "Reference not found"
    sequence = published["sequences"][0]
    reference_id = f"{published['index'].id}-{sequence.id}"
    assert _bases(anonymous_client, reference_id).status_code == 404
    result = _bases(bearer_client, reference_id).json()["result"]
    assert result["sequence"] == sequence.sequence
    assert result["nextPageToken"] is None


def test_empty_reference(anonymous_client, user, client_for):
    reference = ReferenceFactory(user=user, public=True)
    otu, _ = otu_with_sequences(reference, [""], other_isolate=False)
    from brapi import services

    reference_set = services.referenceset_publish_index(index=index_for(reference, [otu]))
    (empty,) = reference_set.references.all()
    result = _bases(anonymous_client, empty.id).json()["result"]
    assert result == {"nextPageToken": None, "offset": 0, "sequence": ""}
    assert _bases(anonymous_client, empty.id, start=1).status_code == 400
