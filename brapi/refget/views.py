"""Views of /refget/: refget v2.0 sequences and Sequence Collections v1.

Open to anonymous clients for public data (htslib sends no credentials); an API key
(`Authorization: Bearer <key>` or Basic) or a session shows what the user may see through
BrAPI. Errors are Virtool's `{"id", "message"}` JSON bodies with the specifications' statuses.
Sequences are read from the chunked bases storage by range: a slice costs the same whatever
the sequence's length, and a whole chromosome is streamed a block at a time.
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpResponse, StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.authentication import SessionAuthentication
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.permissions import AllowAny
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from brapi.models import Reference
from brapi.refget import selectors
from brapi.refget.digests import (
    ATTRIBUTES,
    INHERENT_ATTRIBUTES,
    LEVEL2_ATTRIBUTES,
    TRANSIENT_ATTRIBUTES,
    level2_digest,
    seqcol_compare,
)
from brapi.refget.http import (
    METADATA_MEDIA_TYPE,
    SEQUENCE_MEDIA_TYPES,
    RangeNotSatisfiable,
    Span,
    media_type_choose,
    span_resolve,
)
from brapi.refget.serializers import (
    LEVEL2_BODY_SCHEMA,
    CollectionListQuerySerializer,
    CollectionQuerySerializer,
    CollectionSerializer,
    ComparisonSerializer,
    DigestListSerializer,
    MetadataSerializer,
    PageQuerySerializer,
    RefgetServiceInfoSerializer,
    SeqcolServiceInfoSerializer,
)
from brapi.storage import bases_read
from virtool_site.api.authentication import ApiKeyAuthentication
from virtool_site.api.pagination import query_validate
from virtool_site.api.parsers import JSONParser
from virtool_site.api.serializers import ErrorSerializer
from virtool_site.errors import InvalidInput, NotFound

#: Larger answers are streamed, about this many bases per block (a whole number of chunks).
STREAM_BLOCK_BASES = 1 << 20
TAGS = {"sequences": ["refget sequences"], "collections": ["refget sequence collections"]}

_ERRORS = {
    400: "Bad request",
    401: "Invalid credentials",
    404: "Not found (or not visible to the caller)",
    406: "Not acceptable: the Accept header allows none of the media types answered",
    409: "The identifier names more than one sequence",
    416: "Range not satisfiable: coordinates outside the sequence, or a range whose first byte is after its last",
    422: "Invalid query or body",
    501: "Not implemented: start after end (circular sequences are not supported)",
}


def _errors(*codes: int) -> dict:
    return {code: OpenApiResponse(ErrorSerializer, description=_ERRORS[code]) for code in sorted({401, *codes})}


class RefgetJSONRenderer(JSONRenderer):
    """refget's own JSON media type; `application/json` is answered to clients asking for it."""

    media_type = METADATA_MEDIA_TYPE
    charset = "us-ascii"
    ensure_ascii = True


class RefgetView(APIView):
    authentication_classes = [ApiKeyAuthentication, SessionAuthentication]
    permission_classes = [AllowAny]
    renderer_classes = [JSONRenderer]
    parser_classes = [JSONParser]  # the API's: bounded in size and depth

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        # A NUL can't name anything stored here, and PostgreSQL refuses it in a query.
        if any("\x00" in str(value) for value in kwargs.values()):
            raise NotFound("Not found")


def _service_info(artifact: str, name: str, description: str, version: str, documentation: str) -> dict:
    """GA4GH service-info; the organization is BrAPI's (BRAPI_SERVER_INFO), if configured."""
    info = getattr(settings, "BRAPI_SERVER_INFO", {}) or {}
    return {
        "id": f"org.virtool.virtool_site.{artifact}",
        "name": name,
        "type": {"group": "org.ga4gh", "artifact": artifact, "version": version},
        "description": description,
        "organization": {
            "name": info.get("organizationName") or "virtool_site",
            "url": info.get("organizationURL") or "https://www.virtool.ca",
        },
        "documentationUrl": documentation,
        "version": "1.0.0",
    }


# refget sequences --------------------------------------------------------------------------


class SequenceServiceInfoView(RefgetView):
    renderer_classes = [RefgetJSONRenderer, JSONRenderer]

    @extend_schema(
        tags=TAGS["sequences"],
        summary="refget v2 service-info",
        responses={200: RefgetServiceInfoSerializer, **_errors(406)},
    )
    def get(self, request):
        document = _service_info(
            "refget",
            "virtool_site refget",
            "Reference sequences from checksums",
            "2.0.0",
            "https://samtools.github.io/hts-specs/refget.html",
        )
        document["refget"] = {
            "circular_supported": False,
            "subsequence_limit": None,
            "algorithms": ["md5", "ga4gh"],
            "identifier_types": ["insdc", "refseq"],
        }
        return Response(document)


class _ErrorsAsJson(BaseContentNegotiation):
    """The sequence view chooses its media type by refget's rules; DRF renders only errors."""

    def select_parser(self, request, parsers):
        return parsers[0] if parsers else None

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


_SEQUENCE_ID = OpenApiParameter(
    "id",
    str,
    OpenApiParameter.PATH,
    description="MD5 (bare, as htslib sends it, or `md5:`), GA4GH identifier (`SQ.`..., or `ga4gh:SQ.`...), "
    "or an accession (`insdc:` or `refseq:`)",
)
_SEQUENCE_TEXT = {
    (code, media): OpenApiResponse(OpenApiTypes.STR, description=description)
    for code, description in (
        (200, "The sequence, or the bases [start, end), upper case, no line breaks"),
        (206, "The bytes of the Range header (first and last included)"),
    )
    for media in SEQUENCE_MEDIA_TYPES
}


class SequenceView(RefgetView):
    content_negotiation_class = _ErrorsAsJson

    @extend_schema(
        tags=TAGS["sequences"],
        summary="A sequence, or part of it",
        description="`start` (0-based, included) and `end` (excluded), or a `Range: bytes=first-last` header "
        "(206). Answered as text/vnd.ga4gh.refget.v2.0.0+plain, or text/plain to clients asking for it.",
        parameters=[
            _SEQUENCE_ID,
            OpenApiParameter("start", {"type": "integer", "minimum": 0, "maximum": 2**32 - 1}, description="0-based"),
            OpenApiParameter("end", {"type": "integer", "minimum": 0, "maximum": 2**32 - 1}, description="Excluded"),
            OpenApiParameter(
                "Range", str, OpenApiParameter.HEADER, description="One range of bytes, e.g. bytes=0-9 (start=0&end=10)"
            ),
        ],
        responses={**_SEQUENCE_TEXT, **_errors(400, 404, 406, 409, 416, 501)},
    )
    def get(self, request, id: str):
        reference = selectors.sequence_get_visible(user=request.user, identifier=id)
        media = media_type_choose(request.META.get("HTTP_ACCEPT"), SEQUENCE_MEDIA_TYPES)
        span = span_resolve(
            length=reference.length,
            start=request.query_params.get("start"),
            end=request.query_params.get("end"),
            range_header=request.META.get("HTTP_RANGE"),
        )
        return _sequence_response(reference, span, media)

    def handle_exception(self, exc):
        response = super().handle_exception(exc)
        if isinstance(exc, RangeNotSatisfiable) and exc.length is not None:
            response["Content-Range"] = f"bytes */{exc.length}"
        return response


def _sequence_response(reference: Reference, span: Span, media: str):
    content_type = f"{media}; charset=us-ascii"
    count = span.stop - span.start
    if count <= STREAM_BLOCK_BASES:
        body = bases_read(reference_id=reference.id, chunk_size=reference.chunk_size, start=span.start, stop=span.stop)
        response = HttpResponse(body.encode(), content_type=content_type)
    else:
        response = StreamingHttpResponse(_bases_blocks(reference, span), content_type=content_type)
        response["Content-Length"] = str(count)
    if span.kind == "range":
        response.status_code = 206
        response["Content-Range"] = f"bytes {span.start}-{span.stop - 1}/{reference.length}"
    else:
        response["Accept-Ranges"] = "none" if span.kind == "query" else "bytes"
    return response


def _bases_blocks(reference: Reference, span: Span):
    chunk_size = reference.chunk_size
    step = max(1, STREAM_BLOCK_BASES // chunk_size) * chunk_size
    for position in range(span.start, span.stop, step):
        stop = min(position + step, span.stop)
        yield bases_read(reference_id=reference.id, chunk_size=chunk_size, start=position, stop=stop).encode()


class SequenceMetadataView(RefgetView):
    renderer_classes = [RefgetJSONRenderer, JSONRenderer]

    @extend_schema(
        tags=TAGS["sequences"],
        summary="A sequence's checksums, length and aliases",
        parameters=[_SEQUENCE_ID],
        responses={200: MetadataSerializer, **_errors(404, 406, 409)},
    )
    def get(self, request, id: str):
        reference = selectors.sequence_get_visible(user=request.user, identifier=id)
        return Response(
            {
                "metadata": {
                    "id": reference.md5checksum,
                    "md5": reference.md5checksum,
                    "ga4gh": reference.ga4gh_digest or None,
                    "length": reference.length,
                    "aliases": selectors.sequence_aliases(user=request.user, reference=reference),
                }
            }
        )


# Sequence collections ----------------------------------------------------------------------

#: The JSON Schema of the collections served (the seqcol extended schema's attributes).
SEQCOL_SCHEMA = {
    "description": "A collection of biological sequences.",
    "type": "object",
    "properties": {
        "lengths": {
            "type": "array",
            "collated": True,
            "description": "Number of elements, such as nucleotides or amino acids, in each sequence.",
            "items": {"type": "integer"},
        },
        "names": {
            "type": "array",
            "collated": True,
            "description": "Human-readable labels of each sequence (chromosome names).",
            "items": {"type": "string"},
        },
        "sequences": {
            "type": "array",
            "collated": True,
            "items": {"type": "string", "description": "Refget sequences v2 identifiers for sequences."},
        },
        "name_length_pairs": {
            "type": "array",
            "collated": True,
            "description": "Human-readable labels paired with number of elements in each sequence.",
            "items": {
                "type": "object",
                "properties": {"name": {"type": "string"}, "length": {"type": "integer"}},
                "required": ["name", "length"],
            },
        },
        "sorted_name_length_pairs": {
            "type": "array",
            "collated": False,
            "description": "Sorted digests of the name-length pairs: an order-invariant coordinate system.",
            "items": {"type": "string"},
        },
        "sorted_sequences": {
            "type": "array",
            "collated": False,
            "items": {"type": "string", "description": "Refget sequences v2 identifiers, sorted."},
        },
    },
    "required": ["names", "lengths", "sequences"],
    "ga4gh": {"inherent": list(INHERENT_ATTRIBUTES), "transient": list(TRANSIENT_ATTRIBUTES)},
}

_DIGEST = "A sequence collection's top-level digest"


class SeqcolServiceInfoView(RefgetView):
    @extend_schema(
        tags=TAGS["collections"],
        summary="Sequence Collections service-info",
        responses={200: SeqcolServiceInfoSerializer, **_errors(406)},
    )
    def get(self, request):
        document = _service_info(
            "refget-seqcol",
            "virtool_site sequence collections",
            "Collections of sequences from digests",
            "1.0.0",
            "https://ga4gh.github.io/refget/seqcols/",
        )
        document["seqcol"] = {"schema": SEQCOL_SCHEMA}
        return Response(document)


class CollectionView(RefgetView):
    @extend_schema(
        tags=TAGS["collections"],
        summary="A sequence collection (a BrAPI reference set)",
        parameters=[OpenApiParameter("digest", str, OpenApiParameter.PATH, description=_DIGEST), CollectionQuerySerializer],
        responses={200: CollectionSerializer, **_errors(404, 406, 422)},
    )
    def get(self, request, digest: str):
        level = query_validate(CollectionQuerySerializer, request)["level"]
        reference_set = selectors.collection_get_visible(user=request.user, digest=digest)
        if level == 1:
            return Response(selectors.collection_level1(reference_set))
        return Response(selectors.collection_level2(reference_set))


def _comparison(digest_a, digest_b, collection_a: dict, collection_b: dict) -> dict:
    return {"digests": {"a": digest_a, "b": digest_b}, **seqcol_compare(collection_a, collection_b)}


class ComparisonView(RefgetView):
    @extend_schema(
        tags=TAGS["collections"],
        summary="Compare two sequence collections held here",
        parameters=[
            OpenApiParameter("digest1", str, OpenApiParameter.PATH, description=_DIGEST + " (a)"),
            OpenApiParameter("digest2", str, OpenApiParameter.PATH, description=_DIGEST + " (b)"),
        ],
        responses={200: ComparisonSerializer, **_errors(404, 406)},
    )
    def get(self, request, digest1: str, digest2: str):
        set_a = selectors.collection_get_visible(user=request.user, digest=digest1)
        set_b = selectors.collection_get_visible(user=request.user, digest=digest2)
        body = _comparison(
            digest1, digest2, selectors.collection_level2(set_a), selectors.collection_level2(set_b)
        )
        return Response(body)


class ComparisonPostView(RefgetView):
    @extend_schema(
        tags=TAGS["collections"],
        summary="Compare a sequence collection held here with one sent in the body (level 2)",
        parameters=[OpenApiParameter("digest1", str, OpenApiParameter.PATH, description=_DIGEST + " (a)")],
        request={"application/json": LEVEL2_BODY_SCHEMA},
        responses={200: ComparisonSerializer, **_errors(404, 406, 422)},
    )
    def post(self, request, digest1: str):
        body = request.data
        if not isinstance(body, dict):
            raise InvalidInput(errors={"non_field_errors": ["A level-2 sequence collection: a JSON object of arrays"]})
        bad = sorted(key for key, value in body.items() if not isinstance(value, list))
        if bad:
            raise InvalidInput(errors={key: ["An attribute of a level-2 collection is an array"] for key in bad})
        reference_set = selectors.collection_get_visible(user=request.user, digest=digest1)
        try:
            comparison = _comparison(digest1, level2_digest(body), selectors.collection_level2(reference_set), body)
        except RecursionError:
            raise InvalidInput(errors={"non_field_errors": ["Array elements nested too deeply"]}) from None
        return Response(comparison)


class CollectionListView(RefgetView):
    @extend_schema(
        tags=TAGS["collections"],
        summary="Digests of the sequence collections held here, filtered by attribute digests",
        parameters=[CollectionListQuerySerializer],
        responses={200: DigestListSerializer, **_errors(406, 422)},
    )
    def get(self, request):
        query = query_validate(CollectionListQuerySerializer, request)
        filters = {attribute: query[attribute] for attribute in ATTRIBUTES if attribute in query}
        results, total = selectors.collection_digests_list(
            user=request.user, filters=filters, page=query["page"], page_size=query["page_size"]
        )
        return Response(_digest_page(results, total, query))


def _digest_page(results: list[str], total: int, query: dict) -> dict:
    return {"results": results, "pagination": {"page": query["page"], "page_size": query["page_size"], "total": total}}


class AttributeListView(RefgetView):
    @extend_schema(
        tags=TAGS["collections"],
        summary="Level-1 digests of an attribute among the collections held here",
        parameters=[OpenApiParameter("attribute", str, OpenApiParameter.PATH, enum=list(ATTRIBUTES)), PageQuerySerializer],
        responses={200: DigestListSerializer, **_errors(404, 406, 422)},
    )
    def get(self, request, attribute: str):
        query = query_validate(PageQuerySerializer, request)
        results, total = selectors.attribute_digests_list(
            user=request.user, attribute=attribute, page=query["page"], page_size=query["page_size"]
        )
        return Response(_digest_page(results, total, query))


class AttributeView(RefgetView):
    @extend_schema(
        tags=TAGS["collections"],
        summary="An attribute's level-2 value from its level-1 digest",
        description="Transient attributes (sorted_name_length_pairs) have no level-2 value: 404.",
        parameters=[
            OpenApiParameter("attribute_name", str, OpenApiParameter.PATH, enum=list(LEVEL2_ATTRIBUTES)),
            OpenApiParameter("attribute_digest", str, OpenApiParameter.PATH, description="The level-1 digest"),
        ],
        responses={200: OpenApiResponse({"type": "array", "items": {}}), **_errors(404, 406)},
    )
    def get(self, request, attribute_name: str, attribute_digest: str):
        value = selectors.attribute_get_visible(user=request.user, attribute=attribute_name, digest=attribute_digest)
        return Response(value)
