import pytest

from brapi.tests.conftest import brava_validate, md5, set_md5

pytestmark = pytest.mark.django_db

REFERENCESET_FIELDS = {
    "additionalInfo",
    "assemblyPUI",
    "commonCropName",
    "description",
    "externalReferences",
    "isDerived",
    "md5checksum",
    "referenceSetDbId",
    "referenceSetName",
    "sourceAccessions",
    "sourceGermplasm",
    "sourceURI",
    "species",
}


def _ids(body) -> set[str]:
    return {item["referenceSetDbId"] for item in body["result"]["data"]}


def test_list_referencesets(bearer_client, published, assembly):
    response = bearer_client.get("/brapi/v2/referencesets")
    assert response.status_code == 200
    body = response.json()
    brava_validate(body, "ReferenceSets/getReferencesetsResponse")
    assert body["metadata"]["pagination"] == {"currentPage": 0, "pageSize": 1000, "totalCount": 2, "totalPages": 1}
    by_id = {item["referenceSetDbId"]: item for item in body["result"]["data"]}
    for item in by_id.values():
        assert set(item) == REFERENCESET_FIELDS
    virtool = by_id[published["index"].id]
    assert virtool["referenceSetName"] == "Plant viruses 3"
    assert virtool["species"] == {"term": "virus", "termURI": None}
    assert virtool["md5checksum"] == set_md5(md5(s.sequence) for s in published["sequences"])
    assert virtool["assemblyPUI"] is None
    assert virtool["commonCropName"] is None
    assert virtool["sourceAccessions"] == []
    assert virtool["additionalInfo"]["virtoolIndexId"] == published["index"].id
    assert {"referenceId": published["reference"].id, "referenceSource": "virtool reference"} in virtool[
        "externalReferences"
    ]
    genome = by_id[assembly["set"].id]
    assert genome["referenceSetName"] == "Test assembly"
    assert genome["commonCropName"] == "Maize"
    assert genome["species"] == {"term": "Zea mays", "termURI": None}
    assert genome["sourceAccessions"] == ["GCF_000005005.2"]
    assert genome["md5checksum"] == set_md5(md5(s) for s in assembly["sequences"].values())


def test_get_referenceset(anonymous_client, assembly):
    response = anonymous_client.get(f"/brapi/v2/referencesets/{assembly['set'].id}")
    assert response.status_code == 200
    body = response.json()
    brava_validate(body, "ReferenceSets/getReferencesetsReferencesetdbidResponse")
    assert body["result"]["referenceSetDbId"] == assembly["set"].id
    assert set(body["result"]) == REFERENCESET_FIELDS


def test_get_referenceset_not_found(anonymous_client, published):
    response = anonymous_client.get(f"/brapi/v2/referencesets/{published['set'].id}")
    assert response.status_code == 404
    assert response.json() == "ReferenceSet not found"


def test_private_assembly_only_for_administrators(anonymous_client, bearer_client, admin_client, assembly):
    reference_set = assembly["set"]
    reference_set.public = False
    reference_set.save()
    for client in (anonymous_client, bearer_client):
        assert client.get(f"/brapi/v2/referencesets/{reference_set.id}").status_code == 404
        assert client.get("/brapi/v2/references").json()["result"]["data"] == []
    assert admin_client.get(f"/brapi/v2/referencesets/{reference_set.id}").status_code == 200


@pytest.mark.parametrize(
    "query,expected",
    [
        ("referenceSetDbId={virtool}", {"virtool"}),
        ("referenceSetDbId={virtool}&referenceSetDbId={genome}", {"virtool", "genome"}),
        ("accession=GCF_000005005.2", {"genome"}),
        ("assemblyPUI=x", set()),
        ("md5checksum={genome_md5}", {"genome"}),
        ("commonCropName=Maize", {"genome"}),
        ("externalReferenceId={index}", {"virtool"}),
        ("externalReferenceSource=virtool reference", {"virtool"}),
        ("externalReferenceSource=virtool", set()),
        ("programDbId=x", set()),
        ("trialDbId=x", set()),
        ("studyDbId=x", set()),
        ("isDerived=banana&minLength=zzz", {"virtool", "genome"}),
        ("pageSize=1&page=1", {"genome"}),
    ],
)
def test_list_referencesets_filters(bearer_client, published, assembly, query, expected):
    names = {published["set"].id: "virtool", assembly["set"].id: "genome"}
    query = query.format(
        virtool=published["set"].id,
        genome=assembly["set"].id,
        genome_md5=assembly["set"].md5checksum,
        index=published["index"].id,
    )
    response = bearer_client.get(f"/brapi/v2/referencesets?{query}")
    assert response.status_code == 200, response.json()
    assert {names[i] for i in _ids(response.json())} == expected


@pytest.mark.parametrize("query", ["page=-1", "pageSize=-5", "page=x"])
def test_list_referencesets_bad_paging(anonymous_client, query):
    response = anonymous_client.get(f"/brapi/v2/referencesets?{query}")
    assert response.status_code == 400
    assert isinstance(response.json(), str)


@pytest.mark.parametrize("page_size", [1, 20])
def test_list_referencesets_fixed_query_count(anonymous_client, db, tmp_path, page_size, django_assert_num_queries):
    from brapi import services

    for number in range(25):
        (tmp_path / "one.fa").write_bytes(b">chr1\nACGT\n")
        with (tmp_path / "one.fa").open("rb") as handle:
            services.referenceset_import_fasta(stream=handle, name=f"Assembly {number}")
    with django_assert_num_queries(3):
        body = anonymous_client.get(f"/brapi/v2/referencesets?pageSize={page_size}").json()
    assert len(body["result"]["data"]) == page_size


def test_commoncropnames(anonymous_client, assembly, published):
    response = anonymous_client.get("/brapi/v2/commoncropnames")
    assert response.status_code == 200
    body = response.json()
    brava_validate(body, None)
    assert body["result"]["data"] == ["Maize"]
    assert body["metadata"]["pagination"]["totalCount"] == 1
    assert anonymous_client.get("/brapi/v2/commoncropnames?page=-3").status_code == 400
