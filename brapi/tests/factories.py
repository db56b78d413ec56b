"""Test data for BrAPI: Virtool references, OTUs, isolates, sequences and ready indexes.

Rows are written directly so these tests do not depend on the refs and indexes services.
"""

from __future__ import annotations

import os

import factory

from indexes.models import Index
from refs.models import OTU, Reference
from refs.tests import factories as refs_factories
from virtool_site.ids import random_id

_BASES = b"ACGT"
_TABLE = bytes(_BASES[i & 3] for i in range(256))


def random_bases(length: int) -> str:
    return os.urandom(length).translate(_TABLE).decode("ascii")


class ReferenceFactory(refs_factories.ReferenceFactory):
    name = factory.Sequence(lambda n: f"Plant viruses {n}")


class OTUFactory(refs_factories.OTUFactory):
    reference = factory.SubFactory(ReferenceFactory)
    name = factory.Sequence(lambda n: f"Test virus {n}")
    abbreviation = factory.Sequence(lambda n: f"TV{n}")
    verified = True


class IsolateFactory(refs_factories.IsolateFactory):
    otu = factory.SubFactory(OTUFactory)
    isolate_id = factory.LazyFunction(random_id)
    position = 0
    source_name = factory.Sequence(lambda n: f"A{n}")
    default = True


class SequenceFactory(refs_factories.SequenceFactory):
    isolate = factory.SubFactory(IsolateFactory)
    position = 0
    accession = factory.Sequence(lambda n: f"NC_{n:06d}.1")
    definition = factory.LazyAttribute(lambda o: f"{o.otu.name}, complete genome")
    host = "Plant"
    segment = None
    sequence = factory.LazyFunction(lambda: random_bases(300))


class IndexFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Index

    reference = factory.SubFactory(ReferenceFactory)
    version = factory.Sequence(lambda n: n)
    ready = True
    manifest = factory.LazyFunction(dict)


def otu_with_sequences(reference: Reference, sequences: list[str], *, name: str | None = None, other_isolate: bool = True):
    """An OTU whose default isolate holds `sequences`, plus a non-default isolate (not published)."""
    otu = OTUFactory(reference=reference, **({"name": name} if name else {}))
    isolate = IsolateFactory(otu=otu, position=0, default=True)
    made = [
        SequenceFactory(isolate=isolate, otu=otu, position=position, sequence=bases, segment=f"RNA{position + 1}")
        for position, bases in enumerate(sequences)
    ]
    if other_isolate:
        other = IsolateFactory(otu=otu, position=1, default=False)
        for position, bases in enumerate(sequences):
            SequenceFactory(isolate=other, otu=otu, position=position, sequence=random_bases(len(bases)))
    return otu, made


def index_for(reference: Reference, otus: list[OTU], **kwargs) -> Index:
    """A ready index whose manifest holds the OTUs at their current versions."""
    return IndexFactory(reference=reference, manifest={otu.id: otu.version for otu in otus}, **kwargs)
