import base64
import gzip
import json

import pytest
from rest_framework.test import APIClient

from indexes.tests.factories import ReferenceFactory, otu_create


@pytest.fixture
def reference(user):
    """A reference owned by `user` (who holds every right on it) with no OTUs."""
    return ReferenceFactory(user=user, name="Plant viruses")


@pytest.fixture
def built_reference(reference):
    """A reference of three verified OTUs, each with an unbuilt create change."""
    otu_create(reference, name="Abaca bunchy top virus", isolates=[["ACGT" * 60, "GGCC" * 40], ["TTAA" * 60, "CCGG" * 40]])
    otu_create(reference, name="Banana bract mosaic virus")
    otu_create(reference, name="Cucumber mosaic virus")
    return reference


@pytest.fixture
def job_client():
    """An APIClient authenticated as a job runner (`Basic base64("job-{id}:{key}")`)."""

    def make(job_id: str, key: str) -> APIClient:
        client = APIClient()
        token = base64.b64encode(f"job-{job_id}:{key}".encode()).decode()
        client.credentials(HTTP_AUTHORIZATION=f"Basic {token}")
        return client

    return make


def read_fasta_gz(path) -> dict[str, str]:
    records = {}
    name = None
    with gzip.open(path, "rt") as handle:
        for line in handle:
            line = line.rstrip("\n")
            if line.startswith(">"):
                name = line[1:]
                records[name] = ""
            elif name is not None:
                records[name] += line
    return records


def read_json_gz(path) -> dict:
    with gzip.open(path, "rt") as handle:
        return json.load(handle)
