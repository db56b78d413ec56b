"""Test data for references, OTUs, isolates and sequences.

Factories write rows directly (no history); tests that need history use `refs.services`.
The plain factories make minimal rows; the "indexable" family (`PlantReferenceFactory`,
`VerifiedOTUFactory`, `DefaultIsolateFactory`, `GenomeSequenceFactory`) makes what an index
build, a BrAPI publication or an analysis reads: verified OTUs whose default isolate holds
random genomes. The indexes, BrAPI and analyses tests use them.
"""

import random

import factory

from refs.models import OTU, Isolate, Reference, ReferenceGroup, ReferenceUser, Sequence
from virtool_site.ids import random_id
from virtool_site.tests.factories import UserFactory

_ACGT = bytes(b"ACGT"[i % 4] for i in range(256))


def random_bases(length: int, seed: int | None = None) -> str:
    """Random nucleotides, quickly (megabases for the large tests); the same for one seed."""
    return random.Random(seed).randbytes(length).translate(_ACGT).decode()


class ReferenceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Reference
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"Reference {n}")
    user = factory.SubFactory(UserFactory)
    organism = "virus"
    data_type = "genome"

    @factory.post_generation
    def owner_rights(reference, create, extracted, **kwargs):
        """The creator holds every right, as `reference_create` gives them."""
        if create and reference.user is not None and extracted is not False:
            ReferenceUser.objects.create(
                reference=reference, user=reference.user, build=True, modify=True, modify_otu=True, remove=True
            )


class ReferenceUserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ReferenceUser

    reference = factory.SubFactory(ReferenceFactory)
    user = factory.SubFactory(UserFactory)


class ReferenceGroupFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ReferenceGroup

    reference = factory.SubFactory(ReferenceFactory)


class OTUFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = OTU

    reference = factory.SubFactory(ReferenceFactory)
    name = factory.Sequence(lambda n: f"Virus {n}")
    abbreviation = factory.Sequence(lambda n: f"V{n}")
    schema = factory.LazyFunction(list)
    version = 0


class IsolateFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Isolate

    otu = factory.SubFactory(OTUFactory)
    isolate_id = factory.Sequence(lambda n: f"iso{n:05d}")
    position = factory.Sequence(lambda n: n)
    source_type = "isolate"
    source_name = factory.Sequence(lambda n: f"I{n}")
    default = False


class SequenceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Sequence

    isolate = factory.SubFactory(IsolateFactory)
    otu = factory.SelfAttribute("isolate.otu")
    position = factory.Sequence(lambda n: n)
    accession = factory.Sequence(lambda n: f"NC_{n:06d}")
    definition = "Test sequence"
    host = "Banana"
    sequence = "ATGCATGCAAGT"


# Indexable: what builds, publications and analyses read ----------------------------------


class PlantReferenceFactory(ReferenceFactory):
    name = factory.Sequence(lambda n: f"Plant viruses {n}")


class VerifiedOTUFactory(OTUFactory):
    reference = factory.SubFactory(PlantReferenceFactory)
    name = factory.Sequence(lambda n: f"Test virus {n}")
    abbreviation = factory.Sequence(lambda n: f"TV{n}")
    verified = True


class DefaultIsolateFactory(IsolateFactory):
    otu = factory.SubFactory(VerifiedOTUFactory)
    isolate_id = factory.LazyFunction(random_id)
    position = 0
    source_name = factory.Sequence(lambda n: f"A{n}")
    default = True


class GenomeSequenceFactory(SequenceFactory):
    isolate = factory.SubFactory(DefaultIsolateFactory)
    position = 0
    accession = factory.Sequence(lambda n: f"NC_{n:06d}.1")
    definition = factory.LazyAttribute(lambda o: f"{o.otu.name}, complete genome")
    host = "Plant"
    segment = None
    sequence = factory.LazyFunction(lambda: random_bases(300))
