import gzip
import hashlib
import json
from pathlib import Path

import pytest
from jsonschema import Draft4Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4
from rest_framework.test import APIClient

from brapi import services
from brapi.tests.factories import ReferenceFactory, index_for, otu_with_sequences, random_bases
from virtool_site.services import api_key_create

SHARED_BRAPI = Path(__file__).resolve().parents[2].parent / "shared" / "brapi"
BRAVA_DIR = SHARED_BRAPI / "brava-v2.1-schemas"
GENOTYPING_YAML = SHARED_BRAPI / "BrAPI-Genotyping-2.1.yaml"


def _brava_registry() -> Registry:
    resources = []
    for path in BRAVA_DIR.rglob("*.json"):
        if path.name.startswith("CompleteBrapiTest"):
            continue
        contents = json.loads(path.read_text())
        resources.append((path.as_uri(), Resource.from_contents(contents, default_specification=DRAFT4)))
    return Registry().with_resources(resources)


_REGISTRY = None


def brava_validate(body, schema: str | None) -> None:
    """Validate a response body as BRAVA does: `metadata` plus the call's schema (draft-04).

    `schema` None: BRAVA has no schema for the call (commoncropnames), only `metadata`.
    """
    global _REGISTRY
    if _REGISTRY is None:
        _REGISTRY = _brava_registry()
    for name in ("metadata", schema) if schema else ("metadata",):
        uri = (BRAVA_DIR / f"{name}.json").as_uri()
        contents = _REGISTRY.contents(uri)
        Draft4Validator(contents, registry=_REGISTRY).validate(body)


def md5(bases: str) -> str:
    return hashlib.md5(bases.encode()).hexdigest()


def set_md5(member_md5s) -> str:
    return hashlib.md5("".join(sorted(member_md5s)).encode()).hexdigest()


def write_fasta(path: Path, records: list[tuple[str, str]], *, width: int = 60, compress: bool = False) -> Path:
    lines = []
    for header, bases in records:
        lines.append(f">{header}\n")
        lines.extend(bases[i : i + width] + "\n" for i in range(0, len(bases), width))
    data = "".join(lines).encode()
    path.write_bytes(gzip.compress(data) if compress else data)
    return path


@pytest.fixture
def bearer_client(user):
    """An APIClient sending `Authorization: Bearer <api key>` of `user`."""
    _, secret = api_key_create(user=user, name="brapi")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client


@pytest.fixture
def anonymous_client():
    return APIClient()


@pytest.fixture
def published(db, user):
    """A private Virtool reference of `user` with two OTUs (one segmented), published."""
    reference = ReferenceFactory(user=user, name="Plant viruses", organism="virus")
    otu_a, sequences_a = otu_with_sequences(reference, [random_bases(1200), random_bases(800)], name="Alpha virus")
    otu_b, sequences_b = otu_with_sequences(reference, [random_bases(2500)], name="Beta virus")
    index = index_for(reference, [otu_a, otu_b], version=3)
    reference_set = services.referenceset_publish_index(index=index)
    return {
        "reference": reference,
        "index": index,
        "set": reference_set,
        "sequences": [*sequences_a, *sequences_b],
        "otus": {otu_a.id: otu_a, otu_b.id: otu_b},
    }


@pytest.fixture
def public_published(db, user_factory):
    """A public Virtool reference of another user, published."""
    owner = user_factory()
    reference = ReferenceFactory(user=owner, name="Public viruses", public=True)
    otu, sequences = otu_with_sequences(reference, [random_bases(600)], name="Gamma virus")
    index = index_for(reference, [otu], version=0)
    return {"reference": reference, "index": index, "set": services.referenceset_publish_index(index=index), "sequences": sequences}


@pytest.fixture
def assembly(db, tmp_path, settings):
    """A FASTA assembly (3 chromosomes, lower-case soft-masking included) imported publicly."""
    settings.BRAPI_CHUNK_SIZE = 4096
    records = [
        ("NC_000001.1 chromosome 1", random_bases(150_000)),
        ("chr2 chromosome 2", random_bases(33_333).lower() + random_bases(20_000)),
        ("chrM", random_bases(4096)),
    ]
    path = write_fasta(tmp_path / "genome.fa", records, width=70)
    with path.open("rb") as handle:
        reference_set = services.referenceset_import_fasta(
            stream=handle,
            name="Test assembly",
            species="Zea mays",
            crop="Maize",
            accession="GCF_000005005.2",
            read_size=10_000,
        )
    sequences = {header.split()[0]: bases.upper() for header, bases in records}
    return {"set": reference_set, "sequences": sequences, "path": path}
