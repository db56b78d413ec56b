"""Test data for references, OTUs, isolates and sequences.

Factories write rows directly (no history); tests that need history use `refs.services`.
"""

import factory

from refs.models import OTU, Isolate, Reference, ReferenceGroup, ReferenceUser, Sequence
from virtool_site.tests.factories import UserFactory


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
