"""Sequence Collections v1 (/refget/collection, comparison, list, attribute, service-info):
digests against the specification's vectors and the GA4GH `refget` package (test-only: its
compliance fixtures, its Python functions and its Rust digester `gtars`), comparisons, paging,
filters, errors and visibility; the digests stored by publishing, FASTA import and migration.
"""

import importlib
import io
import json
import random
from pathlib import Path

import pytest
import refget
from django.apps import apps
from refget.store import digest_fasta
from refget.utils import compare_seqcols, seqcol_digest
from rest_framework.test import APIClient

from brapi import services
from brapi.models import Reference, ReferenceSet
from brapi.refget.digests import (
    canonical,
    seqcol_compare,
    seqcol_digest as our_seqcol_digest,
    seqcol_level1,
    sha512t24u,
)
from brapi.tests.conftest import brava_validate
from brapi.tests.factories import random_bases
from virtool_site.services import api_key_create

pytestmark = pytest.mark.django_db

#: The seqcol test FASTA files of the GA4GH refget repository (test_fasta/), by name.
TEST_FASTA = {
    "base.fa": [("chrX", "TTGGGGAA"), ("chr1", "GGAA"), ("chr2", "GCGC")],
    "different_names.fa": [("X", "TTGGGGAA"), ("1", "GGAA"), ("2", "GCGC")],
    "different_order.fa": [("chr1", "GGAA"), ("chr2", "GCGC"), ("chrX", "TTGGGGAA")],
    "pair_swap.fa": [("chr2", "TTGGGGAA"), ("chr1", "GGAA"), ("chrX", "GCGC")],
    "subset.fa": [("chrX", "TTGGGGAA"), ("chr1", "GGAA")],
    "swap_wo_coords.fa": [("chrX", "TTGGGGAA"), ("chr2", "GGAA"), ("chr1", "GCGC")],
}
COMPLIANCE_DATA = Path(refget.__file__).parent / "compliance_data"
#: Expected digests (levels 0, 1 and 2) of the test FASTA files, as the refget package ships them.
EXPECTED = json.loads((COMPLIANCE_DATA / "test_fasta_digests.json").read_text())
#: The comparisons the refget compliance suite checks: base.fa against each other test file.
COMPARISONS = sorted((COMPLIANCE_DATA / "comparison").glob("compare_base.fa_*.json"))
LEVEL2 = ("lengths", "name_length_pairs", "names", "sequences", "sorted_sequences")
REFGET_PATHS = (
    "/refget/sequence/service-info",
    "/refget/sequence/{id}",
    "/refget/sequence/{id}/metadata",
    "/refget/service-info",
    "/refget/collection/{digest}",
    "/refget/comparison/{digest1}/{digest2}",
    "/refget/comparison/{digest1}",
    "/refget/list/collection",
    "/refget/list/attributes/{attribute}",
    "/refget/attribute/collection/{attribute_name}/{attribute_digest}",
)


def fasta_bytes(records) -> bytes:
    return "".join(f">{name}\n{bases}\n" for name, bases in records).encode()


def fasta_import(records, *, name: str, public: bool = True) -> ReferenceSet:
    return services.referenceset_import_fasta(stream=io.BytesIO(fasta_bytes(records)), name=name, public=public)


@pytest.fixture
def test_sets(db):
    return {name: fasta_import(records, name=name) for name, records in TEST_FASTA.items()}


# Digests -----------------------------------------------------------------------------------


def test_the_specifications_worked_example():
    """Sequence Collections v1.0.0, "Encoding", steps 1 to 5."""
    sequences = [
        "SQ.2YnepKM7OkBoOrKmvHbGqguVfF9amCST",
        "SQ.lwDyBi432Py-7xnAISyQlnlhWDEaBPv2",
        "SQ.Eqk6_SvMMDCc6C-uEfickOUWTatLMDQZ",
    ]
    rows = zip(["chr1", "chr2", "chr3"], [248956422, 242193529, 198295559], sequences)
    level1 = seqcol_level1(rows)
    assert canonical([248956422, 242193529, 198295559]) == b"[248956422,242193529,198295559]"
    assert level1["lengths"] == "5K4odB173rjao1Cnbk5BnvLt9V7aPAa2"
    assert level1["names"] == "g04lKdxiYtG3dOGeUC5AdKEifw65G0Wp"
    assert level1["sequences"] == "rD29ZKmEqwwHRXjiQ36p6UMZQ5hemmsb"
    assert our_seqcol_digest(level1) == "sjNNwm4zov3Dl0FRWbRTcZwzqrTQKIqL"
    assert sha512t24u(b"ACGT") == "aKF498dAxcJAqme6QYQ7EZ07-fiw8Kw2"


@pytest.mark.parametrize("fasta", sorted(TEST_FASTA))
def test_imported_test_fasta_digests_match_the_published_vectors_and_gtars(test_sets, tmp_path, fasta):
    reference_set = test_sets[fasta]
    expected = EXPECTED[fasta]
    assert reference_set.seqcol_digest == expected["top_level_digest"]
    # gtars (Rust, the refget package's digester) reads the FASTA file itself.
    path = tmp_path / fasta
    path.write_bytes(fasta_bytes(TEST_FASTA[fasta]))
    assert digest_fasta(str(path)).digest == expected["top_level_digest"]
    client = APIClient()
    level1 = client.get(f"/refget/collection/{reference_set.seqcol_digest}?level=1").json()
    assert level1 == {name: expected["level1"][name] for name in level1}
    assert set(level1) == {*LEVEL2, "sorted_name_length_pairs"}
    assert level1["sorted_name_length_pairs"] == expected["sorted_name_length_pairs_digest"]
    level2 = client.get(f"/refget/collection/{reference_set.seqcol_digest}").json()
    assert level2 == {name: expected["level2"][name] for name in LEVEL2}
    assert client.get(f"/refget/collection/{reference_set.seqcol_digest}?level=2").json() == level2
    assert seqcol_digest(level2) == reference_set.seqcol_digest  # the refget package's digest of our level 2


def test_digests_match_the_refget_package_on_random_collections():
    rng = random.Random(16)
    for _ in range(25):
        count = rng.randrange(0, 12)
        names = [rng.choice(["chr1", "chr2", "é", "🧬", 'q"uote', "a\\b", "\u0000x", "Z"]) + str(i) for i in range(count)]
        lengths = [rng.randrange(0, 2**40) for _ in range(count)]
        sequences = ["SQ." + sha512t24u(str(rng.random()).encode()) for _ in range(count)]
        level1 = seqcol_level1(zip(names, lengths, sequences))
        collection = {"names": names, "lengths": lengths, "sequences": sequences}
        assert our_seqcol_digest(level1) == seqcol_digest(collection)
        assert level1["names"] == sha512t24u(refget.canonical_str(names))
        assert level1["lengths"] == sha512t24u(refget.canonical_str(lengths))


def test_comparison_matches_the_refget_package_on_random_arrays():
    rng = random.Random(8785)
    for _ in range(200):
        a = {key: [rng.randrange(4) for _ in range(rng.randrange(6))] for key in rng.sample("abcd", rng.randrange(1, 4))}
        b = {key: [rng.randrange(4) for _ in range(rng.randrange(6))] for key in rng.sample("abcd", rng.randrange(1, 4))}
        assert seqcol_compare(a, b) == compare_seqcols(a, b)


# Comparison --------------------------------------------------------------------------------


def test_every_comparison_fixture_is_used():
    assert [path.name for path in COMPARISONS] == sorted(
        f"compare_base.fa_{name}.json" for name in TEST_FASTA if name != "base.fa"
    )


@pytest.mark.parametrize("fixture", COMPARISONS, ids=lambda path: path.stem)
def test_get_comparison_answers_the_refget_compliance_fixtures(test_sets, fixture):
    expected = json.loads(fixture.read_text())
    a, b = expected["digests"]["a"], expected["digests"]["b"]
    response = APIClient().get(f"/refget/comparison/{a}/{b}")
    assert response.status_code == 200
    assert refget.canonical_str(response.json()) == refget.canonical_str(expected)


@pytest.mark.parametrize("fixture", COMPARISONS, ids=lambda path: path.stem)
def test_post_comparison_with_a_level2_body(test_sets, fixture):
    expected = json.loads(fixture.read_text())
    a, b = expected["digests"]["a"], expected["digests"]["b"]
    client = APIClient()
    body_b = client.get(f"/refget/collection/{b}").json()
    response = client.post(f"/refget/comparison/{a}", body_b, format="json")
    assert response.status_code == 200
    assert response.json() == expected  # digest b computed from the body
    del body_b["names"]
    response = client.post(f"/refget/comparison/{a}", body_b, format="json")
    assert response.json()["digests"] == {"a": a, "b": None}
    assert response.json()["attributes"]["a_only"] == ["names"]


def test_comparison_of_a_collection_with_itself_is_all_same_order(test_sets):
    digest = test_sets["base.fa"].seqcol_digest
    body = APIClient().get(f"/refget/comparison/{digest}/{digest}").json()
    assert set(body["array_elements"]["a_and_b_same_order"].values()) == {True}
    assert body["attributes"]["a_and_b"] == list(LEVEL2)


def test_post_comparison_lists_non_array_attributes_only_as_attributes(test_sets):
    digest = test_sets["base.fa"].seqcol_digest
    body = {"names": ["chrX"], "topologies": ["linear"], "extra": []}
    response = APIClient().post(f"/refget/comparison/{digest}", body, format="json")
    assert response.status_code == 200
    result = response.json()
    assert result["attributes"]["b_only"] == ["extra", "topologies"]
    assert result["array_elements"]["a_and_b_count"] == {"names": 1}
    assert result["array_elements"]["a_and_b_same_order"] == {"names": True}


@pytest.mark.parametrize(
    "body,content_type,status",
    [
        (b"{not json", "application/json", 400),
        (b"[1, 2]", "application/json", 422),
        (b'"text"', "application/json", 422),
        (b'{"names": "chr1"}', "application/json", 422),
        (b'{"names": {"a": 1}}', "application/json", 422),
        (b"NaN", "application/json", 400),
        (b"[" * 100_000, "application/json", 400),  # deeper than Python's JSON decoder recurses
        (b"names=chr1", "application/x-www-form-urlencoded", 415),
    ],
)
def test_post_comparison_refuses_bad_bodies(test_sets, body, content_type, status):
    digest = test_sets["base.fa"].seqcol_digest
    response = APIClient().generic("POST", f"/refget/comparison/{digest}", body, content_type=content_type)
    assert response.status_code == status
    assert set(response.json()) >= {"id", "message"}


def test_unknown_digests_are_404(test_sets):
    client = APIClient()
    known = test_sets["base.fa"].seqcol_digest
    for digest in ("A" * 32, "not-a-digest", "%00" * 4, "x" * 300):
        assert client.get(f"/refget/collection/{digest}").status_code == 404
        assert client.get(f"/refget/comparison/{known}/{digest}").status_code == 404
        assert client.get(f"/refget/comparison/{digest}/{known}").status_code == 404
        assert client.post(f"/refget/comparison/{digest}", {"names": []}, format="json").status_code == 404


def test_collection_level_must_be_1_or_2(test_sets):
    digest = test_sets["base.fa"].seqcol_digest
    for level in ("0", "3", "x", "1.5"):
        response = APIClient().get(f"/refget/collection/{digest}?level={level}")
        assert response.status_code == 422
        assert response.json()["id"] == "invalid_query" and "level" in response.json()["errors"]


# Attributes and lists ----------------------------------------------------------------------


def test_attribute_endpoint_serves_level2_values_but_not_transient_ones(test_sets):
    client = APIClient()
    expected = EXPECTED["base.fa"]
    for attribute in LEVEL2:
        response = client.get(f"/refget/attribute/collection/{attribute}/{expected['level1'][attribute]}")
        assert response.status_code == 200
        assert response.json() == expected["level2"][attribute]
    snlp = expected["level1"]["sorted_name_length_pairs"]
    assert client.get(f"/refget/attribute/collection/sorted_name_length_pairs/{snlp}").status_code == 404
    assert client.get(f"/refget/attribute/collection/colours/{snlp}").status_code == 404
    assert client.get(f"/refget/attribute/collection/names/{'A' * 32}").status_code == 404


def test_list_collections_pages_and_filters(test_sets):
    client = APIClient()
    digests = sorted(reference_set.seqcol_digest for reference_set in test_sets.values())
    body = client.get("/refget/list/collection").json()
    assert body == {"results": digests, "pagination": {"page": 0, "page_size": 100, "total": 6}}
    pages = [client.get(f"/refget/list/collection?page={page}&page_size=4").json() for page in (0, 1, 2)]
    assert [page["results"] for page in pages] == [digests[:4], digests[4:], []]
    assert all(page["pagination"]["total"] == 6 for page in pages)
    base = EXPECTED["base.fa"]
    for attribute in ("names", "lengths", "sequences", "sorted_name_length_pairs", "sorted_sequences"):
        results = client.get(f"/refget/list/collection?{attribute}={base['level1'][attribute]}").json()["results"]
        assert base["top_level_digest"] in results
    # Collections with base.fa's names and lengths (AND): those whose level-1 digests both match.
    both = client.get(f"/refget/list/collection?lengths={base['level1']['lengths']}&names={base['level1']['names']}")
    same = sorted(
        bundle["top_level_digest"]
        for bundle in EXPECTED.values()
        if bundle["level1"]["names"] == base["level1"]["names"] and bundle["level1"]["lengths"] == base["level1"]["lengths"]
    )
    assert both.json()["results"] == same and base["top_level_digest"] in same
    assert client.get("/refget/list/collection?names=nonsense").json()["results"] == []
    assert client.get("/refget/list/collection?names=%00").status_code == 422


def test_list_of_identical_collections_shows_the_digest_once(test_sets):
    fasta_import(TEST_FASTA["base.fa"], name="base again")
    body = APIClient().get("/refget/list/collection").json()
    assert body["pagination"]["total"] == 6 and len(set(body["results"])) == 6


@pytest.mark.parametrize("query", ["page=-1", "page_size=0", "page_size=1001", "page=x", "page=1000000001"])
def test_list_bad_paging_is_422(test_sets, query):
    response = APIClient().get(f"/refget/list/collection?{query}")
    assert response.status_code == 422 and response.json()["id"] == "invalid_query"


def test_list_attributes(test_sets):
    client = APIClient()
    body = client.get("/refget/list/attributes/names").json()
    assert body["results"] == sorted({EXPECTED[name]["level1"]["names"] for name in TEST_FASTA})
    assert body["pagination"]["total"] == len(body["results"])
    assert client.get("/refget/list/attributes/sorted_name_length_pairs").status_code == 200
    assert client.get("/refget/list/attributes/colours").status_code == 404


def test_deeply_nested_array_elements_are_compared_or_refused_never_500(test_sets):
    digest = test_sets["base.fa"].seqcol_digest
    body = b'{"names": ' + b"[" * 900 + b"]" * 900 + b"}"
    response = APIClient().generic("POST", f"/refget/comparison/{digest}", body, content_type="application/json")
    # Compared, or refused as too deeply nested (how deep Python gets depends on the stack).
    assert response.status_code in (200, 400, 422)


def test_openapi_json_describes_the_refget_routes_alone(db):
    body = APIClient().get("/refget/openapi.json").json()
    assert body["openapi"].startswith("3.")
    assert sorted(body["paths"]) == sorted(REFGET_PATHS)


def test_every_refget_route_is_in_the_api_schema(db):
    paths = APIClient().get("/api/schema/?format=json").json()["paths"]
    assert {path for path in paths if path.startswith("/refget/")} == set(REFGET_PATHS)
    operations = {(method, path) for path in REFGET_PATHS for method in paths[path]}
    assert ("post", "/refget/comparison/{digest1}") in operations
    assert len(operations) == len(REFGET_PATHS)


def test_seqcol_service_info_publishes_its_schema(db):
    body = APIClient().get("/refget/service-info").json()
    assert body["type"] == {"group": "org.ga4gh", "artifact": "refget-seqcol", "version": "1.0.0"}
    schema = body["seqcol"]["schema"]
    assert {"names", "lengths", "sequences", "name_length_pairs", "sorted_sequences"} <= set(schema["properties"])
    assert schema["ga4gh"] == {"inherent": ["names", "sequences"], "transient": ["sorted_name_length_pairs"]}


# Visibility --------------------------------------------------------------------------------


def _bearer(user) -> APIClient:
    _, secret = api_key_create(user=user, name="seqcol")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client


def test_private_published_collections_need_the_owners_rights(published, user, user_factory, admin_user):
    digest = published["set"].seqcol_digest
    names = ("anonymous", "other", "owner", "administrator")
    clients = dict(zip(names, (APIClient(), _bearer(user_factory()), _bearer(user), _bearer(admin_user))))
    for name, client in clients.items():
        visible = name in ("owner", "administrator")
        assert client.get(f"/refget/collection/{digest}").status_code == (200 if visible else 404), name
        assert client.get(f"/refget/comparison/{digest}/{digest}").status_code == (200 if visible else 404), name
        assert (digest in client.get("/refget/list/collection").json()["results"]) == visible, name
        names_digest = published["set"].seqcol_names
        status = client.get(f"/refget/attribute/collection/names/{names_digest}").status_code
        assert status == (200 if visible else 404), name


def test_private_imports_are_for_administrators_only(db, user, admin_user):
    reference_set = fasta_import([("chr1", random_bases(50))], name="hidden", public=False)
    assert APIClient().get(f"/refget/collection/{reference_set.seqcol_digest}").status_code == 404
    assert _bearer(user).get(f"/refget/collection/{reference_set.seqcol_digest}").status_code == 404
    assert _bearer(admin_user).get(f"/refget/collection/{reference_set.seqcol_digest}").status_code == 200


# Stored digests ----------------------------------------------------------------------------


def test_publishing_stores_ga4gh_and_collection_digests(published):
    reference_set = published["set"]
    references = list(reference_set.references.order_by("position"))
    for reference in references:
        bases = next(s.sequence for s in published["sequences"] if reference.id.endswith(s.id))
        assert reference.ga4gh_digest == "SQ." + sha512t24u(bases.upper().encode())
    level2 = {
        "names": [reference.name for reference in references],
        "lengths": [reference.length for reference in references],
        "sequences": [reference.ga4gh_digest for reference in references],
    }
    assert reference_set.seqcol_digest == seqcol_digest(level2)


def test_brapi_references_show_the_ga4gh_digest_and_stay_valid(published, bearer_client):
    response = bearer_client.get("/brapi/v2/references")
    body = response.json()
    brava_validate(body, "References/getReferencesResponse")
    for document in body["result"]["data"]:
        reference = Reference.objects.get(id=document["referenceDbId"])
        assert document["additionalInfo"]["ga4ghDigest"] == reference.ga4gh_digest
        assert reference.ga4gh_digest.startswith("SQ.")
    detail = bearer_client.get(f"/brapi/v2/references/{reference.id}").json()
    brava_validate(detail, "References/getReferencesReferencedbidResponse")
    assert detail["result"]["additionalInfo"]["ga4ghDigest"] == reference.ga4gh_digest


def test_the_migration_backfills_rows_stored_before_it(published, assembly):
    before = {
        reference.id: reference.ga4gh_digest for reference in Reference.objects.all()
    }
    sets_before = {s.id: (s.seqcol_digest, s.seqcol_names, s.seqcol_sorted_name_length_pairs) for s in ReferenceSet.objects.all()}
    Reference.objects.update(ga4gh_digest="")
    ReferenceSet.objects.update(seqcol_digest="", seqcol_names="", seqcol_sorted_name_length_pairs="")
    migration = importlib.import_module("brapi.migrations.0002_refget_digests")
    migration.digests_backfill(apps, None)
    assert {reference.id: reference.ga4gh_digest for reference in Reference.objects.all()} == before
    after = {s.id: (s.seqcol_digest, s.seqcol_names, s.seqcol_sorted_name_length_pairs) for s in ReferenceSet.objects.all()}
    assert after == sets_before
    chromosome = Reference.objects.get(reference_set=assembly["set"], name="chr2")
    assert chromosome.ga4gh_digest == "SQ." + sha512t24u(assembly["sequences"]["chr2"].encode())


def test_fasta_import_hashes_lower_case_and_wrapped_lines_as_the_normalised_bases(db):
    bases = random_bases(10_000)
    wrapped = "\n".join(bases[i : i + 61].lower() for i in range(0, len(bases), 61))
    reference_set = services.referenceset_import_fasta(
        stream=io.BytesIO(f">c1\n{wrapped}\n".encode()), name="wrapped", chunk_size=1000, read_size=333
    )
    assert reference_set.references.get().ga4gh_digest == "SQ." + sha512t24u(bases.encode())


def test_renaming_a_reference_in_the_admin_updates_the_collection(client, admin_user, assembly):
    reference_set = assembly["set"]
    reference = reference_set.references.get(name="chrM")
    old_digest = reference_set.seqcol_digest
    client.force_login(admin_user)
    response = client.post(
        f"/admin/brapi/reference/{reference.pk}/change/",
        {
            "name": "chrMT",
            "additional_info": "{}",
            "external_references-TOTAL_FORMS": "0",
            "external_references-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 302, response.content[:2000]
    reference_set.refresh_from_db()
    rows = list(reference_set.references.order_by("position").values_list("name", "length", "ga4gh_digest"))
    assert "chrMT" in [name for name, _, _ in rows]
    assert reference_set.seqcol_digest != old_digest
    assert reference_set.seqcol_digest == seqcol_digest(
        {"names": [r[0] for r in rows], "lengths": [r[1] for r in rows], "sequences": [r[2] for r in rows]}
    )
