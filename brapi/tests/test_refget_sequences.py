"""refget v2.0 sequences (/refget/sequence/...): identifiers, coordinates, media types, errors,
metadata, service-info and visibility.

The coordinate cases are those of the GA4GH refget compliance suite, on sequences of the same
lengths as its test sequences (230,218 and 5,386 bases), with its expected statuses.
"""

import hashlib
import io

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from brapi import services
from brapi.models import Reference
from brapi.refget import views as refget_views
from brapi.refget.digests import sha512t24u
from brapi.tests.factories import ReferenceFactory, index_for, otu_with_sequences, random_bases
from refget.digests import sha512t24u_digest  # the GA4GH refget package (test-only): an independent digest
from virtool_site.services import api_key_create

pytestmark = pytest.mark.django_db

LONG = 230_218  # the compliance suite's S. cerevisiae chromosome I
SHORT = 5_386  # its phiX (circular there; linear here: circular sequences are not supported)
VND = "text/vnd.ga4gh.refget.v2.0.0+plain; charset=us-ascii"


def fasta_import(records, *, name="Genome", public=True, chunk_size=4096):
    data = "".join(f">{header}\n{bases}\n" for header, bases in records).encode()
    return services.referenceset_import_fasta(
        stream=io.BytesIO(data), name=name, public=public, chunk_size=chunk_size, read_size=7_000
    )


def md5(bases: str) -> str:
    return hashlib.md5(bases.encode()).hexdigest()


@pytest.fixture
def genome(db):
    long, short = random_bases(LONG), random_bases(SHORT)
    reference_set = fasta_import([("NC_001133.9 chromosome I", long), ("phiX", short)])
    return {"set": reference_set, "long": long, "short": short, "long_md5": md5(long), "short_md5": md5(short)}


def url(identifier: str, query: str = "") -> str:
    return f"/refget/sequence/{identifier}{query}"


# Identifiers -------------------------------------------------------------------------------


def test_ga4gh_identifier_matches_the_specification_vector(db):
    reference_set = fasta_import([("acgt", "acgt")])
    reference = reference_set.references.get()
    assert reference.ga4gh_digest == "SQ.aKF498dAxcJAqme6QYQ7EZ07-fiw8Kw2"  # refget v2 spec, "ACGT"
    assert reference.md5checksum == md5("ACGT")


def test_every_identifier_kind_returns_the_whole_sequence(genome):
    reference = Reference.objects.get(md5checksum=genome["long_md5"])
    assert reference.ga4gh_digest == "SQ." + sha512t24u_digest(genome["long"].encode())
    client = APIClient()
    for identifier in (
        genome["long_md5"],
        genome["long_md5"].upper(),
        f"md5:{genome['long_md5']}",
        reference.ga4gh_digest,
        f"ga4gh:{reference.ga4gh_digest}",
        "insdc:NC_001133.9",
        "refseq:NC_001133.9",
    ):
        response = client.get(url(identifier))
        assert response.status_code == 200, identifier
        assert response["Content-Type"] == VND
        assert response["Accept-Ranges"] == "bytes"
        assert response.content == genome["long"].encode()
        assert int(response["Content-Length"]) == LONG


@pytest.mark.parametrize(
    "query,start,stop",
    [
        ("?start=10&end=10", 10, 10),
        ("?start=10&end=20", 10, 20),
        ("?start=10&end=11", 10, 11),
        ("?start=230208", 230208, None),
        ("?end=5", None, 5),
        ("?start=230217&end=230218", 230217, 230218),
        ("?start=0", 0, None),
        ("?&end=230218", None, 230218),
        ("?start=0&end=230218", 0, 230218),
        ("?start=1&end=230218", 1, 230218),
        ("?start=230217", 230217, None),
        ("?end=0", None, 0),
        ("?start=&end=7", None, 7),
    ],
)
def test_start_end_return_that_slice_with_accept_ranges_none(genome, query, start, stop):
    response = APIClient().get(url(genome["long_md5"], query))
    assert response.status_code == 200
    expected = genome["long"][start:stop].encode()
    assert response.content == expected
    assert int(response["Content-Length"]) == len(expected)
    assert response["Accept-Ranges"] == "none"


@pytest.mark.parametrize(
    "header,first,last",
    [
        ("bytes=10-19", 10, 19),
        ("bytes=10-230217", 10, 230217),
        ("bytes=10-999999", 10, 230217),
        ("bytes=0-230217", 0, 230217),
        ("bytes=0-999999", 0, 230217),
        ("bytes=0-0", 0, 0),
        ("bytes=230217-230217", 230217, 230217),
    ],
)
def test_range_header_returns_206_with_content_range(genome, header, first, last):
    response = APIClient().get(url(genome["long_md5"]), HTTP_RANGE=header)
    assert response.status_code == 206
    assert response.content == genome["long"][first : last + 1].encode()
    assert response["Content-Range"] == f"bytes {first}-{last}/{LONG}"
    assert response["Content-Type"] == VND


def test_the_specification_example_range_and_query_agree(db):
    bases = "CAACAGAGACTGCTGCTGACAGTGGGCGGGGGAGTAGTTTGCTTGGCCCGTGGTTGAGGA"
    fasta_import([("example", bases)])
    client = APIClient()
    assert client.get(url(md5(bases)), HTTP_RANGE="bytes=5-14").content == b"GAGACTGCTG"
    assert client.get(url(md5(bases), "?start=5&end=15")).content == b"GAGACTGCTG"
    assert client.get(url(md5(bases)), HTTP_RANGE="bytes=0-0").content == b"C"


@pytest.mark.parametrize(
    "which,query,status",
    [
        ("long", "?start=abc&end=20", 400),
        ("long", "?start=-10&end=-29", 400),
        ("long", "?start=abc", 400),
        ("long", "?end=1.5", 400),
        ("long", "?start=4294967296", 400),  # not a 32-bit unsigned integer
        ("short", "?start=67&end=5387", 416),
        ("short", "?start=5386&end=5375", 416),
        ("short", "?start=5386&end=5386", 416),
        ("short", "?start=5386&end=5", 416),
        ("short", "?start=5386", 416),
        ("long", "?start=220218&end=671", 501),
        ("short", "?start=20&end=4", 501),
    ],
)
def test_start_end_errors_are_the_compliance_suites(genome, which, query, status):
    response = APIClient().get(url(genome[f"{which}_md5"], query))
    assert response.status_code == status
    assert response["Content-Type"] == "application/json"
    assert set(response.json()) == {"id", "message"}
    if status == 416:
        assert response["Content-Range"] == f"bytes */{SHORT}"


@pytest.mark.parametrize(
    "which,header,status",
    [
        ("long", "units=20-30", 400),
        ("long", "bytes=ab-19", 400),
        ("long", "bytes=-10--19", 400),
        ("long", "bytes=10--19", 400),
        ("long", "bytes=-10-", 400),
        ("long", "bytes==10-19", 400),
        ("long", "bytes=10-", 400),
        ("long", "bytes=0-1,4-5", 400),  # one range per request
        ("short", "bytes=5200-19", 416),
        ("short", "bytes=59-50", 416),
        ("short", "bytes=5385-5382", 416),
        ("short", "bytes=5387-5391", 416),
        ("short", "bytes=5386-5387", 416),
        ("short", "bytes=9999-99999", 416),
    ],
)
def test_range_errors_are_the_compliance_suites(genome, which, header, status):
    response = APIClient().get(url(genome[f"{which}_md5"]), HTTP_RANGE=header)
    assert response.status_code == status


def test_range_with_start_or_end_is_400(genome):
    client = APIClient()
    for query in ("?start=10&end=20", "?start=10", "?end=20"):
        assert client.get(url(genome["long_md5"], query), HTTP_RANGE="bytes=10-19").status_code == 400


@pytest.mark.parametrize(
    "identifier",
    [
        "Garbagechecksum",
        "0" * 32,
        "md5:" + "f" * 32,
        "SQ." + "A" * 32,
        "SQ.short",
        "sha1:" + "0" * 40,
        "insdc:NC_999999.1",
        "insdc:bad accession!",
        "%00" + "0" * 31,
        "%E2%9C%93",
    ],
)
def test_unknown_identifiers_are_404(genome, identifier):
    for path in (url(identifier), url(identifier) + "/metadata"):
        response = APIClient().get(path)
        assert response.status_code == 404, path
        assert response.json()["id"] == "not_found"


def test_an_accession_naming_two_sequences_is_409(db):
    fasta_import([("NC_045512.2", "ACGT")], name="one")
    fasta_import([("NC_045512.2", "ACGTT")], name="two")
    assert APIClient().get(url("insdc:NC_045512.2")).status_code == 409
    assert APIClient().get(url("insdc:NC_045512.2") + "/metadata").status_code == 409


# Media types -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "accept,content_type",
    [
        ("text/plain", "text/plain; charset=us-ascii"),
        ("text/vnd.ga4gh.refget.v2.0.0+plain", VND),
        ("text/vnd.ga4gh.refget.v2.0.0+plain; charset=us-ascii", VND),
        ("text/vnd.ga4gh.refget.v1.0.0+plain,text/vnd.ga4gh.refget.v2.0.0+plain", VND),
        ("text/vnd.ga4gh.refget.v1.0.0+plain", "text/vnd.ga4gh.refget.v1.0.0+plain; charset=us-ascii"),
        ("text/*", VND),
        ("*/*", VND),
        ("application/json;q=0.9, text/plain;q=0.5", "text/plain; charset=us-ascii"),
    ],
)
def test_sequence_media_types(genome, accept, content_type):
    response = APIClient().get(url(genome["short_md5"], "?start=0&end=10"), HTTP_ACCEPT=accept)
    assert response.status_code == 200
    assert response["Content-Type"] == content_type
    assert response.content == genome["short"][:10].encode()


@pytest.mark.parametrize("accept", ["embl/some_json", "application/json", "text/html", "*/*;q=0", "nonsense"])
def test_sequence_unsupported_accept_is_406(genome, accept):
    response = APIClient().get(url(genome["short_md5"]), HTTP_ACCEPT=accept)
    assert response.status_code == 406
    assert response.json()["id"] == "not_acceptable"


def test_metadata_media_types_and_406(genome):
    client = APIClient()
    response = client.get(url(genome["short_md5"]) + "/metadata")
    assert response["Content-Type"] == "application/vnd.ga4gh.refget.v2.0.0+json; charset=us-ascii"
    both = "application/vnd.ga4gh.refget.v1.0.0+json,application/vnd.ga4gh.refget.v2.0.0+json"
    assert client.get(url(genome["short_md5"]) + "/metadata", HTTP_ACCEPT=both).status_code == 200
    response = client.get(url(genome["short_md5"]) + "/metadata", HTTP_ACCEPT="application/json")
    assert response.status_code == 200 and response["Content-Type"] == "application/json"
    assert client.get(url(genome["short_md5"]) + "/metadata", HTTP_ACCEPT="embl/some_json").status_code == 406
    assert client.get("/refget/sequence/service-info", HTTP_ACCEPT="text/plain").status_code == 406


# Metadata and service-info -----------------------------------------------------------------


def test_metadata_by_md5_or_ga4gh(genome):
    reference = Reference.objects.get(md5checksum=genome["long_md5"])
    for identifier in (genome["long_md5"], reference.ga4gh_digest, f"ga4gh:{reference.ga4gh_digest}"):
        response = APIClient().get(url(identifier) + "/metadata")
        assert response.status_code == 200
        assert response.json() == {
            "metadata": {
                "id": genome["long_md5"],
                "md5": genome["long_md5"],
                "ga4gh": "SQ." + sha512t24u(genome["long"].encode()),
                "length": LONG,
                "aliases": [
                    {"alias": "NC_001133.9", "naming_authority": "refseq"},
                    {"alias": reference.id, "naming_authority": "brapi"},
                ],
            }
        }


def test_metadata_aliases_come_from_visible_copies_only(db, admin_user):
    bases = random_bases(500)
    public = fasta_import([("CM000663.2", bases)], name="public")
    fasta_import([("NC_000001.11", bases)], name="private", public=False)
    aliases = APIClient().get(url(md5(bases)) + "/metadata").json()["metadata"]["aliases"]
    assert aliases == [
        {"alias": "CM000663.2", "naming_authority": "insdc"},
        {"alias": public.references.get().id, "naming_authority": "brapi"},
    ]
    aliases = _bearer(admin_user).get(url(md5(bases)) + "/metadata").json()["metadata"]["aliases"]
    assert {alias["alias"] for alias in aliases} >= {"CM000663.2", "NC_000001.11"}


def test_sequence_service_info(db):
    response = APIClient().get("/refget/sequence/service-info")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/vnd.ga4gh.refget.v2.0.0+json; charset=us-ascii"
    body = response.json()
    assert body["type"] == {"group": "org.ga4gh", "artifact": "refget", "version": "2.0.0"}
    assert body["refget"] == {
        "circular_supported": False,
        "subsequence_limit": None,
        "algorithms": ["md5", "ga4gh"],
        "identifier_types": ["insdc", "refseq"],
    }
    assert {"id", "name", "organization", "version"} <= set(body)


def test_a_trailing_slash_is_tolerated_and_unknown_paths_are_json_404(genome):
    client = APIClient()
    response = client.get(f"/refget/sequence/{genome['long_md5']}/?start=10&end=20")
    assert response.status_code == 200 and response.content == genome["long"][10:20].encode()
    assert client.get(f"/refget/sequence/{genome['long_md5']}/metadata/").status_code == 200
    for path in ("/refget/", "/refget/nothing", "/refget/nothing/", "/refget/sequence/", "/refget/sequence/a/b/c"):
        response = client.get(path)
        assert response.status_code == 404, path
        assert response.json() == {"id": "not_found", "message": "Not found"}


# Large answers -----------------------------------------------------------------------------


def test_long_answers_are_streamed_block_by_block(genome, monkeypatch):
    monkeypatch.setattr(refget_views, "STREAM_BLOCK_BASES", 10_000)
    client = APIClient()
    response = client.get(url(genome["long_md5"]))
    assert response.streaming
    assert response["Content-Length"] == str(LONG)
    assert b"".join(response.streaming_content) == genome["long"].encode()
    response = client.get(url(genome["long_md5"]), HTTP_RANGE="bytes=1000-150000")
    assert response.status_code == 206 and response.streaming
    assert b"".join(response.streaming_content) == genome["long"][1000:150001].encode()


def test_a_slice_costs_the_same_queries_whatever_the_sequence_length(genome):
    client = APIClient()
    counts = []
    for which, length in (("long", LONG), ("short", SHORT)):
        middle = length // 2
        with CaptureQueriesContext(connection) as queries:
            response = client.get(url(genome[f"{which}_md5"], f"?start={middle - 2000}&end={middle + 2000}"))
        assert response.content == genome[which][middle - 2000 : middle + 2000].encode()
        counts.append(len(queries))
    assert counts[0] == counts[1]


# Visibility --------------------------------------------------------------------------------


@pytest.fixture
def private_published(db, user):
    reference = ReferenceFactory(user=user, name="Private viruses")
    bases = random_bases(900)
    otu, sequences = otu_with_sequences(reference, [bases], name="Delta virus")
    reference_set = services.referenceset_publish_index(index=index_for(reference, [otu], version=0))
    return {"set": reference_set, "bases": bases, "md5": md5(bases), "sequence": sequences[0]}


def _bearer(user) -> APIClient:
    _, secret = api_key_create(user=user, name="refget")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client


def test_private_published_sequences_need_the_owners_rights(private_published, user, user_factory, admin_user):
    path = url(private_published["md5"])
    assert APIClient().get(path).status_code == 404
    assert APIClient().get(path + "/metadata").status_code == 404
    assert _bearer(user_factory()).get(path).status_code == 404
    owner = _bearer(user).get(path)
    assert owner.status_code == 200 and owner.content == private_published["bases"].encode()
    assert _bearer(admin_user).get(path).status_code == 200
    metadata = _bearer(user).get(path + "/metadata").json()["metadata"]
    reference = private_published["set"].references.get()
    assert reference.ga4gh_digest == "SQ." + sha512t24u(private_published["bases"].encode())
    assert {"alias": private_published["sequence"].accession, "naming_authority": "refseq"} in metadata["aliases"]
    assert {"alias": reference.id, "naming_authority": "brapi"} in metadata["aliases"]


def test_public_published_sequences_need_no_key(db, user_factory):
    reference = ReferenceFactory(user=user_factory(), public=True)
    bases = random_bases(300)
    otu, _ = otu_with_sequences(reference, [bases])
    services.referenceset_publish_index(index=index_for(reference, [otu], version=0))
    response = APIClient().get(url(md5(bases)))
    assert response.status_code == 200 and response.content == bases.encode()


def test_private_imports_are_for_administrators_only(db, user, admin_user):
    bases = random_bases(400)
    fasta_import([("chr1", bases)], public=False)
    assert APIClient().get(url(md5(bases))).status_code == 404
    assert _bearer(user).get(url(md5(bases))).status_code == 404
    assert _bearer(admin_user).get(url(md5(bases))).status_code == 200


def test_head_answers_the_headers_only(genome):
    response = APIClient().head(url(genome["short_md5"]))
    assert response.status_code == 200 and response.content == b""
    assert response["Content-Length"] == str(SHORT)


def test_an_invalid_key_is_401(genome):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Bearer not-a-key")
    assert client.get(url(genome["short_md5"])).status_code == 401
