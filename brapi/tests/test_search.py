from datetime import timedelta

import pytest
from django.utils import timezone

from brapi.models import Search
from brapi.tests.conftest import brava_validate, md5

pytestmark = pytest.mark.django_db


def _ids(body, key="referenceDbId") -> set[str]:
    return {item[key] for item in body["result"]["data"]}


def test_search_references_fitting_one_page_answers_200(bearer_client, published):
    response = bearer_client.post("/brapi/v2/search/references", {}, format="json")
    assert response.status_code == 200
    body = response.json()
    brava_validate(body, "References/postSearchReferencesResponse")
    assert len(body["result"]["data"]) == 3
    assert not Search.objects.exists()


def test_search_references_larger_than_a_page_answers_202_and_pages(bearer_client, published):
    response = bearer_client.post("/brapi/v2/search/references", {"pageSize": 2}, format="json")
    assert response.status_code == 202
    body = response.json()
    brava_validate(body, "References/postSearchReferencesResponse202")
    search_id = body["result"]["searchResultsDbId"]
    assert body["metadata"]["pagination"]["totalCount"] == 3

    first = bearer_client.get(f"/brapi/v2/search/references/{search_id}?pageSize=2")
    assert first.status_code == 200
    brava_validate(first.json(), "References/getSearchReferencesSearchresultsdbidResponse")
    assert first.json()["metadata"]["pagination"] == {"currentPage": 0, "pageSize": 2, "totalCount": 3, "totalPages": 2}
    second = bearer_client.get(f"/brapi/v2/search/references/{search_id}?page=1&pageSize=2").json()
    assert len(second["result"]["data"]) == 1
    assert _ids(first.json()) | _ids(second) == {r.id for r in published["set"].references.all()}
    everything = bearer_client.get(f"/brapi/v2/search/references/{search_id}?pageSize=10").json()
    assert len(everything["result"]["data"]) == 3


def test_search_without_page_fields_answers_page_0_of_size_1000(bearer_client, published):
    body = bearer_client.post("/brapi/v2/search/references", {}, format="json").json()
    assert body["metadata"]["pagination"] == {"currentPage": 0, "pageSize": 1000, "totalCount": 3, "totalPages": 1}


def test_search_accessions_and_md5checksums_are_case_sensitive(bearer_client, published):
    a0 = published["sequences"][0]
    for body in ({"accessions": [a0.accession.lower()]}, {"md5checksums": [md5(a0.sequence).upper()]}):
        response = bearer_client.post("/brapi/v2/search/references", body, format="json")
        assert response.status_code == 200
        assert response.json()["result"]["data"] == [], body


def test_saved_search_results_default_to_a_page_size_of_1000(bearer_client, published):
    search_id = bearer_client.post("/brapi/v2/search/references", {"pageSize": 2}, format="json").json()["result"][
        "searchResultsDbId"
    ]
    body = bearer_client.get(f"/brapi/v2/search/references/{search_id}").json()
    assert body["metadata"]["pagination"]["pageSize"] == 1000
    assert len(body["result"]["data"]) == 3


def test_search_fields_or_within_and_across(bearer_client, published):
    a0, a1, b0 = published["sequences"]
    index_id = published["index"].id
    body = {
        "accessions": [a0.accession, a1.accession, "nothing"],
        "md5checksums": [md5(a1.sequence), md5(b0.sequence)],
    }
    response = bearer_client.post("/brapi/v2/search/references", body, format="json")
    assert _ids(response.json()) == {f"{index_id}-{a1.id}"}
    body = {"referenceDbIds": [f"{index_id}-{a0.id}", f"{index_id}-{b0.id}"], "minLength": 1000, "maxLength": 1500}
    assert _ids(bearer_client.post("/brapi/v2/search/references", body, format="json").json()) == {
        f"{index_id}-{a0.id}"
    }
    body = {"externalReferenceIds": [a0.id, b0.id], "externalReferenceSources": ["virtool"], "isDerived": False}
    assert len(_ids(bearer_client.post("/brapi/v2/search/references", body, format="json").json())) == 2
    body = {"externalReferenceIDs": [a0.id]}
    assert len(_ids(bearer_client.post("/brapi/v2/search/references", body, format="json").json())) == 1
    body = {"referenceSetDbIds": [published["set"].id], "commonCropNames": []}
    assert len(_ids(bearer_client.post("/brapi/v2/search/references", body, format="json").json())) == 3


@pytest.mark.parametrize(
    "field", ["programDbIds", "programNames", "trialDbIds", "trialNames", "studyDbIds", "studyNames", "germplasmDbIds", "germplasmNames", "commonCropNames"]
)
def test_search_unassociated_criteria_match_nothing(bearer_client, published, field):
    response = bearer_client.post("/brapi/v2/search/references", {field: ["x"]}, format="json")
    assert response.status_code == 200
    assert response.json()["result"]["data"] == []


@pytest.mark.parametrize(
    "body",
    [
        "not json",
        "[1, 2]",
        '{"accessions": "A1"}',
        '{"accessions": [1]}',
        '{"isDerived": "yes"}',
        '{"minLength": "10"}',
        '{"maxLength": true}',
        '{"page": -1}',
        '{"pageSize": 0}',
        '{"referenceDbIds": null}',
        "[" * 100_000,
    ],
)
def test_search_bad_bodies_are_400(bearer_client, published, body):
    response = bearer_client.post("/brapi/v2/search/references", body, content_type="application/json")
    assert response.status_code == 400
    assert isinstance(response.json(), str)


def test_search_ignores_unknown_fields(bearer_client, published):
    response = bearer_client.post("/brapi/v2/search/references", {"colour": "blue"}, format="json")
    assert response.status_code == 200
    assert len(response.json()["result"]["data"]) == 3


def test_search_referencesets(anonymous_client, assembly, public_published):
    response = anonymous_client.post("/brapi/v2/search/referencesets", {"commonCropNames": ["Maize"]}, format="json")
    assert response.status_code == 200
    brava_validate(response.json(), "ReferenceSets/postSearchReferencesetsResponse")
    assert _ids(response.json(), "referenceSetDbId") == {assembly["set"].id}

    response = anonymous_client.post("/brapi/v2/search/referencesets", {"pageSize": 1}, format="json")
    assert response.status_code == 202
    brava_validate(response.json(), "ReferenceSets/postSearchReferencesetsResponse202")
    search_id = response.json()["result"]["searchResultsDbId"]
    first = anonymous_client.get(f"/brapi/v2/search/referencesets/{search_id}")
    assert first.status_code == 200
    brava_validate(first.json(), "ReferenceSets/getSearchReferencesetsSearchresultsdbidResponse")
    second = anonymous_client.get(f"/brapi/v2/search/referencesets/{search_id}?page=1").json()
    assert _ids(first.json(), "referenceSetDbId") | _ids(second, "referenceSetDbId") == {
        assembly["set"].id,
        public_published["set"].id,
    }


@pytest.mark.parametrize(
    "body,expected",
    [
        ({"accessions": ["GCF_000005005.2"]}, {"genome"}),
        ({"assemblyPUIs": ["doi:x"]}, set()),
        ({"md5checksums": ["nope"]}, set()),
        ({"referenceSetDbIds": ["{virtool}"]}, {"virtool"}),
        ({"externalReferenceSources": ["virtool index"]}, {"virtool"}),
        ({"trialNames": ["x"]}, set()),
    ],
)
def test_search_referencesets_fields(anonymous_client, assembly, public_published, body, expected):
    names = {public_published["set"].id: "virtool", assembly["set"].id: "genome"}
    body = {key: [v.format(virtool=public_published["set"].id) for v in value] for key, value in body.items()}
    response = anonymous_client.post("/brapi/v2/search/referencesets", body, format="json")
    assert {names[i] for i in _ids(response.json(), "referenceSetDbId")} == expected


def test_saved_search_is_visible_only_to_its_maker(bearer_client, client_for, user_factory, anonymous_client, published):
    search_id = bearer_client.post("/brapi/v2/search/references", {"pageSize": 1}, format="json").json()["result"][
        "searchResultsDbId"
    ]
    assert bearer_client.get(f"/brapi/v2/search/references/{search_id}").status_code == 200
    assert client_for(user_factory()).get(f"/brapi/v2/search/references/{search_id}").status_code == 404
    assert anonymous_client.get(f"/brapi/v2/search/references/{search_id}").status_code == 404
    # A search of references is not a search of reference sets.
    assert bearer_client.get(f"/brapi/v2/search/referencesets/{search_id}").status_code == 404


def test_saved_search_expires(bearer_client, published, settings):
    settings.BRAPI_SEARCH_TTL_SECONDS = 60
    search_id = bearer_client.post("/brapi/v2/search/references", {"pageSize": 1}, format="json").json()["result"][
        "searchResultsDbId"
    ]
    search = Search.objects.get(id=search_id)
    assert timedelta(seconds=59) < search.expires_at - timezone.now() <= timedelta(seconds=60)
    Search.objects.filter(id=search_id).update(expires_at=timezone.now() - timedelta(seconds=1))
    response = bearer_client.get(f"/brapi/v2/search/references/{search_id}")
    assert response.status_code == 404
    assert isinstance(response.json(), str)
    # Expired searches are swept when new ones are saved.
    bearer_client.post("/brapi/v2/search/references", {"pageSize": 1}, format="json")
    assert not Search.objects.filter(id=search_id).exists()


def test_saved_search_results_follow_current_rights(bearer_client, published, user):
    search_id = bearer_client.post("/brapi/v2/search/references", {"pageSize": 1}, format="json").json()["result"][
        "searchResultsDbId"
    ]
    published["reference"].deleted = True
    published["reference"].save()
    body = bearer_client.get(f"/brapi/v2/search/references/{search_id}").json()
    assert body["result"]["data"] == []


def test_saved_search_bad_page_is_400(bearer_client, published):
    search_id = bearer_client.post("/brapi/v2/search/references", {"pageSize": 1}, format="json").json()["result"][
        "searchResultsDbId"
    ]
    assert bearer_client.get(f"/brapi/v2/search/references/{search_id}?page=-1").status_code == 400
    assert bearer_client.get(f"/brapi/v2/search/references/{search_id}?pageSize=x").status_code == 400


def test_saved_search_with_unstorable_values(bearer_client, published):
    a0, a1, _ = published["sequences"]
    body = {"accessions": ["x\u0000y", a0.accession, a1.accession], "pageSize": 1}
    response = bearer_client.post("/brapi/v2/search/references", body, format="json")
    assert response.status_code == 202
    search_id = response.json()["result"]["searchResultsDbId"]
    results = bearer_client.get(f"/brapi/v2/search/references/{search_id}?pageSize=10").json()
    assert len(results["result"]["data"]) == 2
    only_nul = bearer_client.post("/brapi/v2/search/references", {"accessions": ["\u0000"], "pageSize": 1}, format="json")
    assert only_nul.status_code == 200
    assert only_nul.json()["result"]["data"] == []


def test_search_body_too_large_is_413(bearer_client, published, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    response = bearer_client.post("/brapi/v2/search/references", {"accessions": ["A" * 2000]}, format="json")
    assert response.status_code == 413
    assert isinstance(response.json(), str)


@pytest.mark.django_db
def test_a_search_whose_external_ids_can_match_nothing_finds_nothing(anonymous_client):
    """NUL can't be stored, so such an external id matches nothing (and is never a 500)."""
    response = anonymous_client.post(
        "/brapi/v2/search/references", {"externalReferenceIds": ["\x00x"], "minLength": 1}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["result"]["data"] == []
