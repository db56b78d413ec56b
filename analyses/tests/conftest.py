import base64

import pytest
from rest_framework.test import APIClient

from analyses.tests.factories import (
    IndexFactory,
    IsolateFactory,
    OTUFactory,
    ReferenceFactory,
    SampleFactory,
    SequenceFactory,
)


@pytest.fixture
def job_client():
    """An APIClient authenticated as a job runner with the job's key."""

    def make(job_id: str, key: str) -> APIClient:
        client = APIClient()
        token = base64.b64encode(f"job-{job_id}:{key}".encode()).decode()
        client.credentials(HTTP_AUTHORIZATION=f"Basic {token}")
        return client

    return make


@pytest.fixture
def owner(user_factory):
    return user_factory(username="owner", create_sample=True, upload_file=True)


@pytest.fixture
def owner_client(client_for, owner):
    return client_for(owner)


@pytest.fixture
def sample(owner):
    return SampleFactory(user=owner, name="Grapevine 1")


@pytest.fixture
def reference(owner):
    return ReferenceFactory(user=owner, name="Plant viruses")


@pytest.fixture
def ready_index(reference):
    return IndexFactory(reference=reference, version=0, ready=True)


@pytest.fixture
def otu_sequences(reference):
    """Two OTUs: one with a single isolate of two sequences, one with one sequence."""
    first = OTUFactory(reference=reference, name="Grapevine leafroll virus 3", abbreviation="GLRaV3")
    isolate = IsolateFactory(otu=first, isolate_id="isoa0001", source_type="isolate", source_name="WA-MR")
    a = SequenceFactory(isolate=isolate, position=0, accession="NC_004667.1")
    b = SequenceFactory(isolate=isolate, position=1, accession="NC_004668.1")
    second = OTUFactory(reference=reference, name="Tobacco mosaic virus", abbreviation="TMV")
    isolate2 = IsolateFactory(otu=second, isolate_id="isob0001", source_type="strain", source_name="U1")
    c = SequenceFactory(isolate=isolate2, position=0, accession="NC_001367.1")
    return [a, b, c]
