"""Test data for index builds: references, OTUs with isolates and sequences, and their history.

These write model rows directly (and Change rows through `history.services.change_build`), so
the index tests do not depend on the refs services being written alongside them. The row
factories are refs' indexable family.
"""

import factory

from history.services import change_build
from indexes.models import Index
from refs.documents import otu_document_load
from refs.models import OTU, Reference, Sequence
from refs.tests.factories import DefaultIsolateFactory as IsolateFactory
from refs.tests.factories import GenomeSequenceFactory as SequenceFactory
from refs.tests.factories import ReferenceFactory, random_bases
from refs.tests.factories import VerifiedOTUFactory as OTUFactory

__all__ = ["IsolateFactory", "OTUFactory", "ReferenceFactory", "SequenceFactory", "random_bases"]


def otu_create(
    reference: Reference,
    *,
    user=None,
    name: str | None = None,
    isolates: list[list[str]] | None = None,
    verified: bool = True,
    **fields,
) -> OTU:
    """An OTU with isolates (the first is the default) of the given sequences, and its create change.

    `isolates` is a list of isolates, each a list of sequences (default: one isolate, one
    random 300-base sequence).
    """
    isolates = isolates if isolates is not None else [[random_bases(300)]]
    otu = OTUFactory(reference=reference, verified=verified, **({"name": name} if name else {}), **fields)
    for isolate_position, sequences in enumerate(isolates):
        isolate = IsolateFactory(otu=otu, position=isolate_position, default=isolate_position == 0)
        for sequence_position, bases in enumerate(sequences):
            SequenceFactory(otu=otu, isolate=isolate, position=sequence_position, sequence=bases)
    document = otu_document_load(otu.id)
    change_build(
        method_name="create",
        description=f"Created {otu.name}",
        old=None,
        new=document,
        user=user or reference.user,
    ).save(force_insert=True)
    return otu


def otu_edit(otu: OTU, *, user=None, abbreviation: str | None = None, sequence: str | None = None) -> OTU:
    """Edit an OTU as the refs services would: bump its version and record the change."""
    old = otu_document_load(otu.id)
    otu.refresh_from_db()
    if abbreviation is not None:
        otu.abbreviation = abbreviation
    if sequence is not None:
        first = Sequence.objects.filter(isolate__otu=otu, isolate__default=True).order_by("position").first()
        first.sequence = sequence
        first.save(update_fields=["sequence"])
    otu.version += 1
    otu.save(update_fields=["abbreviation", "version"])
    new = otu_document_load(otu.id)
    change_build(
        method_name="edit", description=f"Edited {otu.name}", old=old, new=new, user=user or otu.reference.user
    ).save(force_insert=True)
    return otu


def otu_remove(otu: OTU, *, user=None) -> None:
    old = otu_document_load(otu.id)
    user = user or otu.reference.user
    otu.delete()
    change_build(method_name="remove", description=f"Removed {old['name']}", old=old, new=None, user=user).save(
        force_insert=True
    )


class IndexFactory(factory.django.DjangoModelFactory):
    """A ready index row without files (for list and permission tests)."""

    class Meta:
        model = Index

    reference = factory.SubFactory(ReferenceFactory)
    version = factory.Sequence(lambda n: n)
    ready = True
    user = factory.SelfAttribute("reference.user")
    manifest = factory.LazyAttribute(
        lambda o: dict(OTU.objects.filter(reference=o.reference).values_list("id", "version"))
    )
