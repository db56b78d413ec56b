"""Test data for BrAPI: Virtool references, OTUs, isolates, sequences and ready indexes.

Rows are written directly so these tests do not depend on the refs and indexes services; the
row factories are refs' indexable family.
"""

from __future__ import annotations

from indexes.models import Index
from indexes.tests.factories import IndexFactory
from refs.models import OTU, Reference
from refs.tests.factories import DefaultIsolateFactory as IsolateFactory
from refs.tests.factories import GenomeSequenceFactory as SequenceFactory
from refs.tests.factories import PlantReferenceFactory as ReferenceFactory
from refs.tests.factories import VerifiedOTUFactory as OTUFactory
from refs.tests.factories import random_bases

__all__ = ["IndexFactory", "IsolateFactory", "OTUFactory", "ReferenceFactory", "SequenceFactory", "random_bases"]


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
