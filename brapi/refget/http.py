"""HTTP details of refget v2: its error statuses, Accept negotiation, ranges and identifiers.

Statuses follow the refget v2.0.0 specification and its compliance suite: 400 for a malformed
request (bad integers, a malformed Range header, Range together with start/end), 406 for an
Accept header the endpoint cannot satisfy, 416 for coordinates outside the sequence or a
Range whose first byte is after its last, 501 for `start > end` (circular sequences are not
supported).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from virtool_site.errors import ApplicationError, BadRequest

SEQUENCE_MEDIA_TYPE = "text/vnd.ga4gh.refget.v2.0.0+plain"
#: The same text: a v1 client asking only for its own media type gets the sequence too.
SEQUENCE_MEDIA_TYPE_V1 = "text/vnd.ga4gh.refget.v1.0.0+plain"
PLAIN_MEDIA_TYPE = "text/plain"
SEQUENCE_MEDIA_TYPES = (SEQUENCE_MEDIA_TYPE, SEQUENCE_MEDIA_TYPE_V1, PLAIN_MEDIA_TYPE)
METADATA_MEDIA_TYPE = "application/vnd.ga4gh.refget.v2.0.0+json"
#: start and end are 32-bit unsigned integers.
COORDINATE_MAX = 2**32 - 1


class NotAcceptable(ApplicationError):
    status_code = 406
    error_id = "not_acceptable"
    default_message = "Not acceptable"


class RangeNotSatisfiable(ApplicationError):
    status_code = 416
    error_id = "range_not_satisfiable"
    default_message = "Range not satisfiable"

    def __init__(self, message: str | None = None, *, length: int | None = None):
        super().__init__(message)
        self.length = length


class NotImplementedRequest(ApplicationError):
    status_code = 501
    error_id = "not_implemented"
    default_message = "Not implemented"


# Accept ------------------------------------------------------------------------------------


def _accept_ranges(header: str) -> list[tuple[str, float]]:
    ranges = []
    for part in header.split(","):
        media, *parameters = (piece.strip() for piece in part.split(";"))
        if "/" not in media:
            continue
        quality = 1.0
        for parameter in parameters:
            name, _, value = parameter.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
                if not 0.0 <= quality <= 1.0:
                    quality = 0.0
        ranges.append((media.lower(), quality))
    return ranges


def _quality(offered: str, ranges: list[tuple[str, float]]) -> float:
    """The quality of the most specific media range matching `offered` (0: none matches)."""
    main = offered.split("/")[0]
    best_specificity, best_quality = -1, 0.0
    for media, quality in ranges:
        if media == offered:
            specificity = 2
        elif media == f"{main}/*":
            specificity = 1
        elif media == "*/*":
            specificity = 0
        else:
            continue
        if specificity > best_specificity:
            best_specificity, best_quality = specificity, quality
    return best_quality


def media_type_choose(accept: str | None, offered: tuple[str, ...]) -> str:
    """The offered media type the Accept header prefers (the first offered on a tie), or 406.

    No Accept header (or an empty one) accepts the first, the endpoint's default.
    """
    if accept is None or not accept.strip():
        return offered[0]
    ranges = _accept_ranges(accept)
    best, best_quality = None, 0.0
    for media in offered:
        quality = _quality(media, ranges)
        if quality > best_quality:
            best, best_quality = media, quality
    if best is None:
        raise NotAcceptable(f"Not acceptable: this endpoint answers {', '.join(offered)}")
    return best


# Coordinates -------------------------------------------------------------------------------

_RANGE = re.compile(r"bytes=([0-9]{1,19})-([0-9]{1,19})")


@dataclass(frozen=True)
class Span:
    """Bases [start, stop) of a sequence, and how it was asked for."""

    start: int
    stop: int
    #: "range" (Range header: 206), "query" (start/end: 200) or "whole" (200).
    kind: str


def coordinate_parse(value: str | None, name: str) -> int | None:
    """A start/end query parameter: absent or empty is None, else a 32-bit unsigned integer."""
    if value is None or value == "":
        return None
    if not (value.isascii() and value.isdigit()) or int(value) > COORDINATE_MAX:
        raise BadRequest(f"{name} must be an unsigned 32-bit integer")
    return int(value)


def span_resolve(*, length: int, start: str | None, end: str | None, range_header: str | None) -> Span:
    """The bases a sequence request asks for, or the refget error for its coordinates."""
    start_value = coordinate_parse(start, "start")
    end_value = coordinate_parse(end, "end")
    if range_header is not None:
        if start_value is not None or end_value is not None:
            raise BadRequest("Use either the Range header or start/end, not both")
        return _range_span(range_header, length)
    if start_value is None and end_value is None:
        return Span(0, length, "whole")
    first = 0 if start_value is None else start_value
    stop = length if end_value is None else end_value
    if start_value is not None and start_value >= length and not start_value == length == 0:
        raise RangeNotSatisfiable(f"start must be less than the sequence length ({length})", length=length)
    if stop > length:
        raise RangeNotSatisfiable(f"end must not exceed the sequence length ({length})", length=length)
    if first > stop:
        raise NotImplementedRequest("start is after end: circular sequences are not supported")
    return Span(first, stop, "query")


def _range_span(header: str, length: int) -> Span:
    """One `bytes=first-last` range (inclusive, as RFC 7233), the last clipped to the sequence."""
    match = _RANGE.fullmatch(header.strip())
    if match is None:
        raise BadRequest("Range must be one range of bytes: bytes=first-last")
    first, last = int(match.group(1)), int(match.group(2))
    if first > last:
        raise RangeNotSatisfiable("The first byte of the range is after its last", length=length)
    if first >= length:
        raise RangeNotSatisfiable(f"The range starts past the sequence's end (length {length})", length=length)
    return Span(first, min(last, length - 1) + 1, "range")


# Identifiers -------------------------------------------------------------------------------

_MD5 = re.compile(r"[0-9a-fA-F]{32}")
_GA4GH = re.compile(r"SQ\.[A-Za-z0-9_-]{32}")
_ACCESSION = re.compile(r"[A-Za-z0-9_.-]{1,255}")
#: Namespaces of accessions (`insdc:NC_045512.2`); both look in the same accession column.
ACCESSION_NAMESPACES = ("insdc", "refseq")


@dataclass(frozen=True)
class SequenceId:
    kind: str  # "md5", "ga4gh" or "accession"
    value: str


def sequence_id_parse(identifier: str) -> SequenceId | None:
    """What a refget identifier names: a bare or `md5:` MD5 (case-insensitive), a bare or
    `ga4gh:` GA4GH identifier (`SQ.`...), or a namespaced accession; None for anything else."""
    namespace, colon, value = identifier.partition(":")
    if not colon:
        namespace, value = "", identifier
    namespace = namespace.lower()
    if namespace in ("", "md5") and _MD5.fullmatch(value):
        return SequenceId("md5", value.lower())
    if namespace in ("", "ga4gh") and _GA4GH.fullmatch(value):
        return SequenceId("ga4gh", value)
    if namespace in ACCESSION_NAMESPACES and _ACCESSION.fullmatch(value):
        return SequenceId("accession", value)
    return None


_SEQCOL_DIGEST = re.compile(r"[A-Za-z0-9_-]{32}")


def seqcol_digest_valid(digest: str) -> bool:
    return bool(_SEQCOL_DIGEST.fullmatch(digest))
