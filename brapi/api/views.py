"""BrAPI v2.1 references server (`/brapi/v2/`).

The contract is the official BrAPI-Genotyping-2.1 OpenAPI document, so these views are left
out of the Virtool OpenAPI schema. Responses use the BrAPI envelope; errors are JSON strings.
Reads are open to anonymous clients for public data; `Authorization: Bearer <api key>` (or a
session) shows what the user may see in Virtool.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, status
from rest_framework.authentication import SessionAuthentication, get_authorization_header
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from brapi import selectors, services
from brapi.api import queries
from brapi.api.serializers import envelope, pagination
from brapi.models import Search
from virtool_site.api.authentication import ApiKeyAuthentication
from virtool_site.api.renderers import OrjsonRenderer
from virtool_site.errors import ApplicationError, BadRequest, NotFound

AUTH_MESSAGE = "Missing or expired authorization token"
FORBIDDEN_MESSAGE = "User does not have permission to perform this action"

SERVICES = [
    ("serverinfo", ["GET"]),
    ("commoncropnames", ["GET"]),
    ("referencesets", ["GET"]),
    ("referencesets/{referenceSetDbId}", ["GET"]),
    ("search/referencesets", ["POST"]),
    ("search/referencesets/{searchResultsDbId}", ["GET"]),
    ("references", ["GET"]),
    ("references/{referenceDbId}", ["GET"]),
    ("references/{referenceDbId}/bases", ["GET"]),
    ("search/references", ["POST"]),
    ("search/references/{searchResultsDbId}", ["GET"]),
]
CONTENT_TYPES = ("application/json", "text/csv", "text/tsv", "application/flapjack")


class BrapiBearerAuthentication(ApiKeyAuthentication):
    """`Authorization: Bearer <api key>`; any other credential is refused, not ignored."""

    def authenticate(self, request):
        if "HTTP_AUTHORIZATION" not in request.META:
            return None
        header = get_authorization_header(request)
        scheme, _, token = header.decode("latin-1").strip().partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise exceptions.AuthenticationFailed(AUTH_MESSAGE)
        try:
            return super().authenticate(request)
        except exceptions.AuthenticationFailed:
            raise exceptions.AuthenticationFailed(AUTH_MESSAGE) from None


class JsonOnly(BaseContentNegotiation):
    """BrAPI answers JSON whatever the Accept header says."""

    def select_parser(self, request, parsers):
        return parsers[0] if parsers else None

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


def brapi_exception_handler(exc, context):
    """Errors as BrAPI shows them: a JSON string body with the status."""
    headers = {}
    if isinstance(exc, ApplicationError):
        code, message = exc.status_code, exc.message
    elif isinstance(exc, Http404):
        code, message = 404, "Not found"
    elif isinstance(exc, DjangoPermissionDenied):
        code, message = 403, FORBIDDEN_MESSAGE
    elif isinstance(exc, RequestDataTooBig):
        code, message = 413, "Request body too large"
    elif isinstance(exc, exceptions.APIException):
        code = exc.status_code
        if getattr(exc, "auth_header", None):
            headers["WWW-Authenticate"] = exc.auth_header
        if getattr(exc, "wait", None):
            headers["Retry-After"] = str(int(exc.wait))
        if isinstance(exc, (exceptions.NotAuthenticated, exceptions.AuthenticationFailed)):
            message = AUTH_MESSAGE
        elif isinstance(exc, exceptions.PermissionDenied):
            message = FORBIDDEN_MESSAGE
        elif isinstance(exc, exceptions.ParseError):
            message = "Malformed JSON Request Object"
        elif isinstance(exc.detail, str):
            message = str(exc.detail)
        else:
            message = "Invalid request"
    else:
        return None
    return Response(message, status=code, headers=headers)


@extend_schema(exclude=True)
class BrapiView(APIView):
    authentication_classes = [BrapiBearerAuthentication, SessionAuthentication]
    permission_classes = [AllowAny]
    renderer_classes = [OrjsonRenderer]
    parser_classes = []
    content_negotiation_class = JsonOnly

    def get_exception_handler(self):
        return brapi_exception_handler

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        # A NUL can't name anything stored here, and PostgreSQL refuses it in a query.
        if any("\x00" in str(value) for value in kwargs.values()):
            raise NotFound("Not found")


def _list_response(listing, paging: queries.Paging, *, total: int | None = None, code=status.HTTP_200_OK) -> Response:
    """A page of `listing` (brapi.selectors.Listing)."""
    total = listing.count() if total is None else total
    offset = paging.page * paging.page_size
    data = [] if offset >= total else listing.page(offset, paging.page_size)
    return Response(
        envelope({"data": data}, page_info=pagination(page=paging.page, page_size=paging.page_size, total_count=total)),
        status=code,
    )


# Server info -------------------------------------------------------------------------------


class ServerInfoView(BrapiView):
    def get(self, request):
        content_type = queries.query_text(request.query_params, "contentType") or queries.query_text(
            request.query_params, "dataType"
        )
        if content_type is not None and content_type not in CONTENT_TYPES:
            raise BadRequest(f"Invalid query parameter contentType: expected one of {', '.join(CONTENT_TYPES)}")
        calls = []
        if content_type in (None, "application/json"):
            calls = [
                {
                    "service": service,
                    "methods": methods,
                    "versions": ["2.1"],
                    "contentTypes": ["application/json"],
                    "dataTypes": ["application/json"],
                }
                for service, methods in SERVICES
            ]
        info = getattr(settings, "BRAPI_SERVER_INFO", {}) or {}
        result = {
            "calls": calls,
            "contactEmail": info.get("contactEmail"),
            "documentationURL": info.get("documentationURL", "https://brapi.org/specification"),
            "location": info.get("location"),
            "organizationName": info.get("organizationName"),
            "organizationURL": info.get("organizationURL"),
            "serverDescription": info.get(
                "serverDescription",
                "virtool_site BrAPI v2.1 references server: Virtool index sequences and imported genome assemblies",
            ),
            "serverName": info.get("serverName", "virtool_site"),
        }
        page_info = pagination(page=0, page_size=max(len(calls), 1), total_count=len(calls))
        return Response(envelope(result, page_info=page_info))


class CommonCropNamesView(BrapiView):
    def get(self, request):
        paging = queries.paging_from_query(request.query_params)
        return _list_response(selectors.commoncropnames_listing(request.user), paging)


# Reference sets ----------------------------------------------------------------------------


class ReferenceSetListView(BrapiView):
    def get(self, request):
        criteria = queries.criteria_from_query(request.query_params, "referencesets")
        paging = queries.paging_from_query(request.query_params)
        return _list_response(selectors.referencesets_listing(user=request.user, criteria=criteria), paging)


class ReferenceSetDetailView(BrapiView):
    def get(self, request, reference_set_id: str):
        return Response(envelope(selectors.referenceset_document_read(user=request.user, reference_set_id=reference_set_id)))


# References --------------------------------------------------------------------------------


class ReferenceListView(BrapiView):
    def get(self, request):
        criteria = queries.criteria_from_query(request.query_params, "references")
        paging = queries.paging_from_query(request.query_params)
        return _list_response(selectors.references_listing(user=request.user, criteria=criteria), paging)


class ReferenceDetailView(BrapiView):
    def get(self, request, reference_id: str):
        return Response(envelope(selectors.reference_document_read(user=request.user, reference_id=reference_id)))


class ReferenceBasesView(BrapiView):
    def get(self, request, reference_id: str):
        query = request.query_params
        start = queries.query_integer(query, "start")
        end = queries.query_integer(query, "end")
        token = queries.query_text(query, "pageToken")
        if start is not None and start < 0:
            raise BadRequest("Invalid query parameter start: must be 0 or more")
        if end is not None and end < 0:
            raise BadRequest("Invalid query parameter end: must be 0 or more")
        if start is not None and end is not None and start > end:
            raise BadRequest("Invalid query parameters: start must not be greater than end")
        page_size = max(1, int(settings.BRAPI_BASES_PAGE_SIZE))
        page = selectors.bases_page(
            user=request.user, reference_id=reference_id, start=start, end=end, page_token=token, page_size=page_size
        )
        span = page.end - page.start
        page_info = pagination(page=(page.offset - page.start) // page_size, page_size=page_size, total_count=span)
        result = {"nextPageToken": page.next_page_token, "offset": page.offset, "sequence": page.sequence}
        return Response(envelope(result, page_info=page_info))


# Searches ----------------------------------------------------------------------------------

_SEARCHES = {
    Search.Kind.REFERENCES: selectors.references_listing,
    Search.Kind.REFERENCESETS: selectors.referencesets_listing,
}


class SearchView(BrapiView):
    """POST a search: 200 with the results when they fit one page, else 202 with an id."""

    kind: str = ""
    #: The spec requires a body for /search/referencesets but not for /search/references.
    body_required = False
    #: Counted against the per-user `search` rate (THROTTLE_SEARCH_RATE).
    throttle_scope = "search"

    def post(self, request):
        raw = request.body
        if self.body_required and not raw.strip():
            raise BadRequest("Malformed JSON Request Object: a JSON object is required")
        body = queries.body_parse(raw)
        criteria, page, page_size = queries.criteria_from_body(body, self.kind)
        paging = queries.paging_resolve(page, page_size, where="field of the JSON Request Object:")
        listing = _SEARCHES[self.kind](user=request.user, criteria=criteria)
        total = listing.count()
        if total <= paging.page_size:
            return _list_response(listing, paging, total=total)
        saved = services.search_create(user=request.user, kind=self.kind, criteria=criteria, page_size=paging.page_size)
        page_info = pagination(page=paging.page, page_size=paging.page_size, total_count=total)
        return Response(
            envelope({"searchResultsDbId": saved.id}, page_info=page_info), status=status.HTTP_202_ACCEPTED
        )


class SearchResultsView(BrapiView):
    """GET a page of a saved search, re-run with the criteria it was saved with. Paged by this
    request's `page` and `pageSize` (default 0 and 1000, as the spec says), not the search's."""

    kind: str = ""

    def get(self, request, search_id: str):
        paging = queries.paging_from_query(request.query_params)
        saved = selectors.search_get_visible(user=request.user, search_id=search_id, kind=self.kind)
        return _list_response(_SEARCHES[self.kind](user=request.user, criteria=saved.criteria), paging)


class ReferenceSearchView(SearchView):
    kind = Search.Kind.REFERENCES


class ReferenceSearchResultsView(SearchResultsView):
    kind = Search.Kind.REFERENCES


class ReferenceSetSearchView(SearchView):
    kind = Search.Kind.REFERENCESETS
    body_required = True


class ReferenceSetSearchResultsView(SearchResultsView):
    kind = Search.Kind.REFERENCESETS
