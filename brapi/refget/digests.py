"""Digests of refget sequences and sequence collections, and the seqcol comparison.

Pure functions (no models), so the migration that backfills digests can use them too.

- `sha512t24u`: GA4GH's truncated digest (SHA-512, first 24 bytes, base64url); a sequence's
  GA4GH identifier is `SQ.` + the sha512t24u of its normalised (upper-cased) bases.
- Sequence collections (Sequence Collections v1.0.0): each attribute's level-2 array is
  canonicalised with RFC 8785 (JCS, the `rfc8785` library) and digested with sha512t24u into
  the level-1 representation; the top-level digest is the sha512t24u of the RFC 8785 form of
  the inherent attributes' level-1 digests (`names`, `sequences`).
- Attributes served: the base schema's `names`, `lengths`, `sequences`, the recommended
  `name_length_pairs` and transient `sorted_name_length_pairs`, and the optional
  `sorted_sequences` (the seqcol extended schema; the same set the GA4GH `refget` package
  serves, so comparisons match its compliance fixtures).

Arrays are digested one element at a time (`ArrayDigest`): the RFC 8785 form of an array is
`[` + its elements' RFC 8785 forms joined by `,` + `]`, so memory stays bounded by one element,
except for the two sorted attributes, which hold one short digest per sequence to sort.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterable

import rfc8785

GA4GH_PREFIX = "SQ."
#: sha512t24u digests are 24 bytes in base64url: 32 characters.
DIGEST_LENGTH = 32

INHERENT_ATTRIBUTES = ("names", "sequences")
#: Attributes with a level-2 array: what /collection?level=2 and /comparison show.
LEVEL2_ATTRIBUTES = ("lengths", "name_length_pairs", "names", "sequences", "sorted_sequences")
#: Only their level-1 digest exists: never in level 2, never served by /attribute.
TRANSIENT_ATTRIBUTES = ("sorted_name_length_pairs",)
ATTRIBUTES = (*LEVEL2_ATTRIBUTES, *TRANSIENT_ATTRIBUTES)


def sha512t24u(data: bytes) -> str:
    return _truncate(hashlib.sha512(data))


def _truncate(sha512) -> str:
    return base64.urlsafe_b64encode(sha512.digest()[:24]).decode("ascii")


def ga4gh_identifier(bases: bytes) -> str:
    """`SQ.` + sha512t24u of bases already normalised (upper case, no whitespace)."""
    return GA4GH_PREFIX + sha512t24u(bases)


def ga4gh_identifier_of(sha512) -> str:
    """The GA4GH identifier of a `hashlib.sha512` object fed with the bases incrementally."""
    return GA4GH_PREFIX + _truncate(sha512)


def canonical(value) -> bytes:
    """RFC 8785 (JSON Canonicalization Scheme) UTF-8 bytes of a JSON value."""
    return rfc8785.dumps(value)


class ArrayDigest:
    """The sha512t24u of the RFC 8785 form of an array, fed one element at a time."""

    def __init__(self):
        self._sha512 = hashlib.sha512(b"[")
        self._empty = True

    def add(self, element) -> None:
        if not self._empty:
            self._sha512.update(b",")
        self._sha512.update(canonical(element))
        self._empty = False

    def digest(self) -> str:
        final = self._sha512.copy()
        final.update(b"]")
        return _truncate(final)


def _array_digest(elements: Iterable) -> str:
    digest = ArrayDigest()
    for element in elements:
        digest.add(element)
    return digest.digest()


def name_length_pair(name: str, length: int) -> dict:
    return {"length": length, "name": name}


def seqcol_level1(rows: Iterable[tuple[str, int, str]]) -> dict[str, str]:
    """Level-1 digests of every attribute of a collection given as (name, length, sequence
    identifier) rows in collection order, read once as a stream."""
    names, lengths, sequences, pairs = ArrayDigest(), ArrayDigest(), ArrayDigest(), ArrayDigest()
    sequence_ids: list[str] = []
    pair_digests: list[str] = []
    for name, length, sequence in rows:
        pair = name_length_pair(name, length)
        names.add(name)
        lengths.add(length)
        sequences.add(sequence)
        pairs.add(pair)
        sequence_ids.append(sequence)
        pair_digests.append(sha512t24u(canonical(pair)))
    # Python orders str by code point: for these ASCII digests, the bytewise order the spec means.
    sequence_ids.sort()
    pair_digests.sort()
    return {
        "lengths": lengths.digest(),
        "name_length_pairs": pairs.digest(),
        "names": names.digest(),
        "sequences": sequences.digest(),
        "sorted_name_length_pairs": _array_digest(pair_digests),
        "sorted_sequences": _array_digest(sequence_ids),
    }


def seqcol_digest(level1: dict[str, str]) -> str:
    """The top-level (level 0) digest: only the inherent attributes count."""
    return sha512t24u(canonical({name: level1[name] for name in INHERENT_ATTRIBUTES}))


def seqcol_level2(rows: Iterable[tuple[str, int, str]]) -> dict[str, list]:
    """The canonical (level 2) representation, transient attributes left out."""
    names, lengths, sequences = [], [], []
    for name, length, sequence in rows:
        names.append(name)
        lengths.append(length)
        sequences.append(sequence)
    return {
        "lengths": lengths,
        "name_length_pairs": [name_length_pair(name, length) for name, length in zip(names, lengths)],
        "names": names,
        "sequences": sequences,
        "sorted_sequences": sorted(sequences),
    }


def level2_digest(collection: dict) -> str | None:
    """The top-level digest of a level-2 collection given by a client, or None when it lacks an
    inherent attribute or holds a value RFC 8785 cannot express (an integer past 2**53, or
    nesting deeper than Python recurses)."""
    if not all(isinstance(collection.get(name), list) for name in INHERENT_ATTRIBUTES):
        return None
    try:
        level1 = {name: sha512t24u(canonical(collection[name])) for name in INHERENT_ATTRIBUTES}
    except (rfc8785.CanonicalizationError, RecursionError):
        return None
    return seqcol_digest(level1)


# Comparison --------------------------------------------------------------------------------


def _element_key(element) -> str:
    """A hashable stand-in for a JSON value, equal exactly when the values are."""
    if isinstance(element, str):
        return "s" + element
    return "j" + json.dumps(element, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _elements_compare(a: list, b: list) -> tuple[int, bool | None]:
    """(a_and_b count, a_and_b_same_order) of two arrays, in linear time.

    The GA4GH `refget` package (the specification authors' implementation, whose compliance
    fixtures define the expected answers) counts the elements of each array found in the
    other and takes the smaller count; the order is null when nothing overlaps or the counts
    differ (unbalanced duplicates), else whether the overlapping elements come in the same
    order. (So one shared element is in the same order, where the prose says null.)
    """
    a_keys = [_element_key(element) for element in a]
    b_keys = [_element_key(element) for element in b]
    a_set, b_set = set(a_keys), set(b_keys)
    a_shared = [key for key in a_keys if key in b_set]
    b_shared = [key for key in b_keys if key in a_set]
    overlap = min(len(a_shared), len(b_shared))
    if not a_shared and not b_shared:
        return overlap, None
    if len(a_shared) != len(b_shared):
        return overlap, None
    return overlap, a_shared == b_shared


def seqcol_compare(a: dict, b: dict) -> dict:
    """`attributes` and `array_elements` of the comparison of two level-2 collections.

    Every attribute is listed under `attributes`; only arrays are compared element-wise.
    """
    keys = sorted(set(a) | set(b))
    a_arrays = {key: value for key, value in a.items() if isinstance(value, list)}
    b_arrays = {key: value for key, value in b.items() if isinstance(value, list)}
    both_count, same_order = {}, {}
    for key in keys:
        if key in a_arrays and key in b_arrays:
            both_count[key], same_order[key] = _elements_compare(a_arrays[key], b_arrays[key])
    return {
        "attributes": {
            "a_only": [key for key in keys if key not in b],
            "b_only": [key for key in keys if key not in a],
            "a_and_b": [key for key in keys if key in a and key in b],
        },
        "array_elements": {
            "a_count": {key: len(a_arrays[key]) for key in sorted(a_arrays)},
            "b_count": {key: len(b_arrays[key]) for key in sorted(b_arrays)},
            "a_and_b_count": both_count,
            "a_and_b_same_order": same_order,
        },
    }


# Stored digests ------------------------------------------------------------------------------

#: ReferenceSet columns holding each attribute's level-1 digest.
SEQCOL_FIELDS = {attribute: f"seqcol_{attribute}" for attribute in ATTRIBUTES}


def seqcol_field_values(rows: Iterable[tuple[str, int, str]]) -> dict[str, str]:
    """ReferenceSet column values (`seqcol_digest` and one per attribute) for its rows."""
    level1 = seqcol_level1(rows)
    values = {SEQCOL_FIELDS[attribute]: digest for attribute, digest in level1.items()}
    values["seqcol_digest"] = seqcol_digest(level1)
    return values
