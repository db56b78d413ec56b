"""Fixtures for reference, OTU and history tests (history's tests import them too)."""

import pytest

from refs import services
from refs.models import OTU, Reference
from refs.tests.factories import ReferenceFactory, ReferenceGroupFactory, ReferenceUserFactory
from virtool_site.tests.factories import GroupFactory


@pytest.fixture
def owner(user_factory):
    """A user with no global permission who created `reference` (and so holds every right)."""
    return user_factory(username="owner")


@pytest.fixture
def owner_client(client_for, owner):
    return client_for(owner)


@pytest.fixture
def stranger(user_factory):
    """A user who may not see private references of others."""
    return user_factory(username="stranger")


@pytest.fixture
def stranger_client(client_for, stranger):
    return client_for(stranger)


@pytest.fixture
def curator(user_factory):
    """A user who may create references (the reference processes' tests start them as this user)."""
    return user_factory(username="curator", create_ref=True)


@pytest.fixture
def curator_client(client_for, curator):
    return client_for(curator)


@pytest.fixture
def reference(owner):
    return services.reference_create(user=owner, name="Plant Viruses", organism="viruses")


@pytest.fixture
def otu_factory(owner, reference):
    """`make(name, abbreviation=..., isolates=n, sequences=m)`: an OTU built through the services."""

    def make(name="Abaca bunchy top virus", abbreviation="ABTV", *, isolates=0, sequences=0, schema=None, ref=None):
        otu = services.otu_create(
            user=owner, reference=ref or reference, name=name, abbreviation=abbreviation, schema=schema or []
        )
        for i in range(isolates):
            isolate = services.isolate_add(user=owner, otu_id=otu.id, source_type="isolate", source_name=f"I{i}")
            for j in range(sequences):
                services.sequence_create(
                    user=owner,
                    otu_id=otu.id,
                    isolate_id=isolate.isolate_id,
                    accession=f"NC_{i}{j:05d}",
                    definition=f"Sequence {j} of isolate {i}",
                    sequence="ATGCGTACGTTAGC",
                )
        return OTU.objects.get(id=otu.id)

    return make


@pytest.fixture
def abtv(otu_factory):
    """Abaca bunchy top virus (ABTV) at version 0, with no isolates."""
    return otu_factory()


@pytest.fixture
def full_otu(otu_factory):
    """A verified OTU: two isolates of two sequences each."""
    return otu_factory("Banana streak virus", "BSV", isolates=2, sequences=2)


@pytest.fixture
def visibility_world(user_factory):
    """References of `other`, each shared (or not) with `viewer` in a different way."""
    viewer, other = user_factory(username="viewer"), user_factory(username="other")
    group, unrelated_group = GroupFactory(name="curators"), GroupFactory(name="others")
    viewer.groups.add(group)
    refs = {
        "own": ReferenceFactory(user=viewer, name="own"),
        "public": ReferenceFactory(user=other, name="public", public=True),
        "by_user": ReferenceFactory(user=other, name="by_user"),
        "by_group": ReferenceFactory(user=other, name="by_group"),
        "other_group": ReferenceFactory(user=other, name="other_group"),
        "private": ReferenceFactory(user=other, name="private"),
        "deleted": ReferenceFactory(user=viewer, name="deleted", public=True),
    }
    ReferenceUserFactory(reference=refs["by_user"], user=viewer)
    ReferenceGroupFactory(reference=refs["by_group"], group=group)
    ReferenceGroupFactory(reference=refs["other_group"], group=unrelated_group)
    Reference.objects.filter(id=refs["deleted"].id).update(deleted=True)
    return viewer, other, group, refs
