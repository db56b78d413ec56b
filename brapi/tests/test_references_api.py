import pytest

from brapi import services
from brapi.models import ReferenceSet
from brapi.tests.conftest import brava_validate, md5
from brapi.tests.factories import ReferenceFactory, index_for, otu_with_sequences, random_bases
from refs.models import ReferenceUser

pytestmark = pytest.mark.django_db

REFERENCE_FIELDS = {
    "additionalInfo",
    "commonCropName",
    "externalReferences",
    "isDerived",
    "length",
    "md5checksum",
    "referenceDbId",
    "referenceName",
    "referenceSetDbId",
    "referenceSetName",
    "sourceAccessions",
    "sourceDivergence",
    "sourceGermplasm",
    "sourceURI",
    "species",
}


def _ids(response) -> set[str]:
    return {item["referenceDbId"] for item in response.json()["result"]["data"]}


def test_list_references_envelope_and_every_field(bearer_client, published):
    response = bearer_client.get("/brapi/v2/references")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    body = response.json()
    brava_validate(body, "References/getReferencesResponse")
    assert body["metadata"]["datafiles"] == []
    assert body["metadata"]["pagination"] == {"currentPage": 0, "pageSize": 1000, "totalCount": 3, "totalPages": 1}
    assert body["metadata"]["status"] == [{"message": "Request accepted, response successful", "messageType": "INFO"}]
    for item in body["result"]["data"]:
        assert set(item) == REFERENCE_FIELDS
        assert item["referenceSetName"] == "Plant viruses 3"
        assert item["sourceDivergence"] is None
        assert item["sourceGermplasm"] == []
        assert item["isDerived"] is False
    by_id = {item["externalReferences"][0]["referenceId"]: item for item in body["result"]["data"]}
    for sequence in published["sequences"]:
        item = by_id[sequence.id]
        assert item["externalReferences"] == [{"referenceId": sequence.id, "referenceSource": "virtool"}]
        assert item["md5checksum"] == md5(sequence.sequence)
        assert item["length"] == len(sequence.sequence)
        assert item["sourceAccessions"] == [sequence.accession]
        assert item["referenceName"] == sequence.accession
        assert item["species"] == {"term": sequence.otu.name, "termURI": None}
        assert item["sourceURI"] == f"/api/indexes/{published['index'].id}/files/reference.fa.gz"


def test_get_reference(bearer_client, published):
    sequence = published["sequences"][0]
    reference_id = f"{published['index'].id}-{sequence.id}"
    response = bearer_client.get(f"/brapi/v2/references/{reference_id}")
    assert response.status_code == 200
    body = response.json()
    brava_validate(body, "References/getReferencesReferencedbidResponse")
    assert body["result"]["referenceDbId"] == reference_id
    assert set(body["result"]) == REFERENCE_FIELDS


def test_get_reference_not_found_is_json_string(bearer_client, published):
    response = bearer_client.get("/brapi/v2/references/nope")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json() == "Reference not found"


def test_private_reference_invisible_to_anonymous_and_strangers(client_for, anonymous_client, user_factory, published):
    reference_id = published["set"].references.first().id
    assert anonymous_client.get(f"/brapi/v2/references/{reference_id}").status_code == 404
    assert anonymous_client.get("/brapi/v2/references").json()["result"]["data"] == []
    stranger = client_for(user_factory())
    assert stranger.get(f"/brapi/v2/references/{reference_id}").status_code == 404
    assert stranger.get("/brapi/v2/references").json()["metadata"]["pagination"]["totalCount"] == 0


def test_shared_reference_visible_to_member(client_for, user_factory, published):
    member = user_factory()
    ReferenceUser.objects.create(reference=published["reference"], user=member)
    assert client_for(member).get("/brapi/v2/references").json()["metadata"]["pagination"]["totalCount"] == 3


def test_admin_sees_private_and_anonymous_sees_public(admin_client, anonymous_client, published, public_published):
    assert admin_client.get("/brapi/v2/references").json()["metadata"]["pagination"]["totalCount"] == 4
    body = anonymous_client.get("/brapi/v2/references").json()
    assert _ids_of(body) == {r.id for r in public_published["set"].references.all()}


def _ids_of(body):
    return {item["referenceDbId"] for item in body["result"]["data"]}


def test_deleted_reference_hides_its_references(bearer_client, published):
    published["reference"].deleted = True
    published["reference"].save()
    assert bearer_client.get("/brapi/v2/references").json()["result"]["data"] == []
    assert bearer_client.get("/brapi/v2/referencesets").json()["result"]["data"] == []


def test_invalid_bearer_token_is_401(published, api_client):
    api_client.credentials(HTTP_AUTHORIZATION="Bearer not-a-key")
    response = api_client.get("/brapi/v2/references")
    assert response.status_code == 401
    assert response.json() == "Missing or expired authorization token"
    assert response["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("header", ["Token abc", "Basic dXNlcjprZXk=", "Bearer", "Bearer ", ""])
def test_authorization_other_than_a_bearer_token_is_401(api_client, published, header):
    api_client.credentials(HTTP_AUTHORIZATION=header)
    assert api_client.get("/brapi/v2/references").status_code == 401


@pytest.mark.parametrize(
    "query,expected",
    [
        ("", {"a0", "a1", "b0"}),
        ("referenceDbId={a0}", {"a0"}),
        ("referenceDbId={a0}&referenceDbId={b0}", {"a0", "b0"}),
        ("referenceSetDbId={set}", {"a0", "a1", "b0"}),
        ("referenceSetDbId=other", set()),
        ("accession={acc_a1}", {"a1"}),
        ("md5checksum={md5_b0}", {"b0"}),
        ("isDerived=false", {"a0", "a1", "b0"}),
        ("isDerived=true", set()),
        ("minLength=1000", {"a0", "b0"}),
        ("maxLength=1200", {"a0", "a1"}),
        ("minLength=900&maxLength=1300", {"a0"}),
        ("minLength=5000", set()),
        ("externalReferenceId={seq_a1}", {"a1"}),
        ("externalReferenceSource=virtool", {"a0", "a1", "b0"}),
        ("externalReferenceSource=other", set()),
        ("externalReferenceId={seq_a1}&externalReferenceSource=virtool", {"a1"}),
        ("externalReferenceId={seq_a1}&externalReferenceSource=other", set()),
        ("commonCropName=Maize", set()),
        ("programDbId=p1", set()),
        ("trialDbId=t1", set()),
        ("studyDbId=s1", set()),
        ("unknownParameter=whatever", {"a0", "a1", "b0"}),
        ("accession={acc_a1}&minLength=1000", set()),
        ("accession=a%00b", set()),
        ("accession=a%00b&accession={acc_a1}", {"a1"}),
    ],
)
def test_list_references_filters(bearer_client, published, query, expected):
    a0, a1, b0 = published["sequences"]
    index_id = published["index"].id
    names = {"a0": a0, "a1": a1, "b0": b0}
    ids = {f"{index_id}-{s.id}": name for name, s in names.items()}
    query = query.format(
        a0=f"{index_id}-{a0.id}",
        b0=f"{index_id}-{b0.id}",
        set=published["set"].id,
        acc_a1=a1.accession,
        md5_b0=md5(b0.sequence),
        seq_a1=a1.id,
    )
    response = bearer_client.get(f"/brapi/v2/references?{query}")
    assert response.status_code == 200, response.json()
    assert {ids[i] for i in _ids(response)} == expected


def test_accession_and_md5checksum_filters_are_case_sensitive_exact_matches(bearer_client, published):
    a0 = published["sequences"][0]
    for query in (
        f"accession={a0.accession.lower()}",
        f"accession={a0.accession[:-1]}",
        f"md5checksum={md5(a0.sequence).upper()}",
        f"md5checksum={md5(a0.sequence)[:-1]}",
    ):
        response = bearer_client.get(f"/brapi/v2/references?{query}")
        assert response.status_code == 200
        assert response.json()["result"]["data"] == [], query
    assert len(_ids(bearer_client.get(f"/brapi/v2/references?accession={a0.accession}"))) == 1


def test_common_crop_name_filter_matches_assembly(anonymous_client, assembly):
    body = anonymous_client.get("/brapi/v2/references?commonCropName=Maize").json()
    assert body["metadata"]["pagination"]["totalCount"] == 3
    assert {item["commonCropName"] for item in body["result"]["data"]} == {"Maize"}


@pytest.mark.parametrize(
    "query,message",
    [
        ("page=-1", "page"),
        ("page=abc", "page"),
        ("pageSize=0", "pageSize"),
        ("pageSize=abc", "pageSize"),
        ("pageSize=1.5", "pageSize"),
        ("minLength=x", "minLength"),
        ("maxLength=1e3", "maxLength"),
        ("isDerived=maybe", "isDerived"),
        ("isDerived=", "isDerived"),
        ("minLength=", "minLength"),
        ("page=", "page"),
    ],
)
def test_list_references_bad_parameters_are_400(bearer_client, published, query, message):
    response = bearer_client.get(f"/brapi/v2/references?{query}")
    assert response.status_code == 400
    assert isinstance(response.json(), str)
    assert message in response.json()


def test_pagination(bearer_client, published):
    seen = []
    for page in range(3):
        body = bearer_client.get(f"/brapi/v2/references?pageSize=1&page={page}").json()
        assert body["metadata"]["pagination"] == {"currentPage": page, "pageSize": 1, "totalCount": 3, "totalPages": 3}
        seen.extend(_ids_of(body))
    assert len(set(seen)) == 3
    beyond = bearer_client.get("/brapi/v2/references?pageSize=2&page=99").json()
    assert beyond["result"]["data"] == []
    assert beyond["metadata"]["pagination"]["totalPages"] == 2


def test_page_size_is_capped(bearer_client, published, settings):
    settings.BRAPI_PAGE_SIZE_MAX = 2
    body = bearer_client.get("/brapi/v2/references?pageSize=500").json()
    assert body["metadata"]["pagination"]["pageSize"] == 2
    assert len(body["result"]["data"]) == 2


def test_huge_numbers_are_not_server_errors(bearer_client, published):
    big = "9" * 30
    response = bearer_client.get(f"/brapi/v2/references?page={big}")  # past PAGE_MAX: a bad parameter
    assert (response.status_code, response.json()) == (400, "Invalid query parameter page: must be 1000000 or less")
    assert bearer_client.get(f"/brapi/v2/references?minLength={big}").json()["result"]["data"] == []
    assert bearer_client.get(f"/brapi/v2/references?maxLength=-{big}").json()["result"]["data"] == []


@pytest.mark.parametrize("page_size", [1, 50])
def test_list_references_fixed_query_count(client_for, user, page_size, django_assert_num_queries):
    reference = ReferenceFactory(user=user)
    otus = [otu_with_sequences(reference, [random_bases(20)], other_isolate=False)[0] for _ in range(60)]
    services.referenceset_publish_index(index=index_for(reference, otus))
    client = client_for(user)
    # count, page, external references
    with django_assert_num_queries(3):
        body = client.get(f"/brapi/v2/references?pageSize={page_size}").json()
    assert len(body["result"]["data"]) == page_size


def test_trailing_slash_and_method_not_allowed(bearer_client, published):
    assert bearer_client.get("/brapi/v2/references/").status_code == 200
    response = bearer_client.delete("/brapi/v2/references")
    assert response.status_code == 405
    assert isinstance(response.json(), str)


def test_nul_in_path_is_404(bearer_client, published):
    response = bearer_client.get("/brapi/v2/references/ab%00cd")
    assert response.status_code == 404
    assert isinstance(response.json(), str)


def test_sets_of_several_indexes_are_all_listed(bearer_client, published):
    otu = next(iter(published["otus"].values()))
    newer = index_for(published["reference"], [otu], version=4)
    services.referenceset_publish_index(index=newer)
    assert ReferenceSet.objects.count() == 2
    body = bearer_client.get(f"/brapi/v2/references?referenceSetDbId={newer.id}").json()
    assert {item["referenceSetName"] for item in body["result"]["data"]} == {"Plant viruses 4"}
