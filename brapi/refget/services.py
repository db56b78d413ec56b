"""Writes: the sequence collection digests a reference set carries.

A reference's GA4GH identifier is computed where its bases are stored (`brapi.services`:
publishing an index, importing FASTA; migration 0002 backfilled older rows). Once every
reference of a set has one, the set's sequence collection digests are computed here from the
references' names, lengths and identifiers in position order, without reading any bases.
"""

from __future__ import annotations

from brapi.models import ReferenceSet
from brapi.refget.digests import seqcol_field_values
from brapi.refget.selectors import collection_rows


def referenceset_seqcol_store(*, reference_set: ReferenceSet) -> ReferenceSet:
    """Compute and save the set's sequence collection digests (call after its references change)."""
    values = seqcol_field_values(collection_rows(reference_set.id))
    for name, value in values.items():
        setattr(reference_set, name, value)
    reference_set.save(update_fields=list(values))
    return reference_set
