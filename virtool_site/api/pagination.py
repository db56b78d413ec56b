"""Virtool's page envelope: `{documents, total_count, found_count, page_count, per_page, page}`.

`total_count` ignores the search term (a view says how with `get_total_count()`),
`found_count` honours it. A page costs at most three queries: the page and two counts, and
counts are skipped when they are known without one:

- a page that is not full ends the list, so `found_count` is its offset plus its length;
- with no query parameter other than `page`, `per_page` (and `format`) nothing is filtered
  (filters and searches are query parameters), so `found_count` is `total_count`.
"""

import math

from django.conf import settings
from rest_framework import serializers
from rest_framework.pagination import BasePagination
from rest_framework.response import Response

from virtool_site.errors import InvalidQuery


PER_PAGE_DEFAULT = settings.PAGE_SIZE_DEFAULT
PER_PAGE_MAX = settings.PAGE_SIZE_MAX
#: The last page a client may ask for, bounded as `per_page` is: a million pages of up to
#: PER_PAGE_MAX documents are past any list real data makes (the largest, the history of a
#: reference, grows by one change per edit), so a page past it can only be a client's bug
#: (`page=10**30` answered an empty 200) and is refused as such: 422 "Invalid query".
PAGE_MAX = 1_000_000


class PageQuerySerializer(serializers.Serializer):
    page = serializers.IntegerField(min_value=1, max_value=PAGE_MAX, default=1)
    per_page = serializers.IntegerField(min_value=1, max_value=PER_PAGE_MAX, default=PER_PAGE_DEFAULT)


def query_validate(serializer_class, request, **kwargs) -> dict:
    """Validated query parameters, or 422 "Invalid query" with the field errors."""
    serializer = serializer_class(data=request.query_params, **kwargs)
    if not serializer.is_valid():
        raise InvalidQuery(errors=serializer.errors)
    return serializer.validated_data


def page_envelope(*, documents: list, found_count: int, total_count: int, page: int, per_page: int) -> dict:
    return {
        "documents": documents,
        "total_count": total_count,
        "found_count": found_count,
        "page_count": math.ceil(found_count / per_page) if found_count else 0,
        "per_page": per_page,
        "page": page,
    }


#: Query parameters that choose the page (or DRF's renderer), not the documents.
PAGE_PARAMETERS = frozenset(("page", "per_page", "format"))
#: Offsets past this are past the end of any list (and past what the database accepts); with
#: PAGE_MAX no page reaches it.
OFFSET_MAX = 2**62


def page_params(request) -> tuple[int, int]:
    """(page, per_page) from the query string; 422 "Invalid query" as PageQuerySerializer says.

    Plain numbers in range (what clients send) are read directly, since a serializer costs
    more than that on every list; anything else goes through the serializer for its errors.
    """
    query = request.query_params
    page, per_page = query.get("page"), query.get("per_page")
    if (page is None or page.isdigit() and page.isascii() and len(page) < 10) and (
        per_page is None or per_page.isdigit() and per_page.isascii() and len(per_page) < 10
    ):
        page = int(page) if page is not None else 1
        per_page = int(per_page) if per_page is not None else PER_PAGE_DEFAULT
        if 1 <= page <= PAGE_MAX and 1 <= per_page <= PER_PAGE_MAX:
            return page, per_page
    params = query_validate(PageQuerySerializer, request)
    return params["page"], params["per_page"]


class VirtoolPagination(BasePagination):
    def paginate_queryset(self, queryset, request, view=None):
        self.page, self.per_page = page_params(request)
        get_total = getattr(view, "get_total_count", None)
        unfiltered = PAGE_PARAMETERS.issuperset(request.query_params.keys())
        offset = (self.page - 1) * self.per_page
        documents = list(queryset[offset : offset + self.per_page]) if offset < OFFSET_MAX else []
        if documents and len(documents) < self.per_page or not documents and offset == 0:
            # The last page (or an empty list): what was read is all there is.
            self.found_count = offset + len(documents)
        elif unfiltered and get_total:
            self.found_count = get_total()
        else:
            self.found_count = queryset.count()
        if get_total is None or unfiltered:
            self.total_count = self.found_count
        else:
            self.total_count = get_total()
        return documents

    def get_paginated_response(self, data):
        return Response(
            page_envelope(
                documents=data,
                found_count=self.found_count,
                total_count=self.total_count,
                page=self.page,
                per_page=self.per_page,
            )
        )

    def get_paginated_response_schema(self, schema):
        integer = {"type": "integer"}
        return {
            "type": "object",
            "required": ["documents", "total_count", "found_count", "page_count", "per_page", "page"],
            "properties": {
                "documents": schema,
                "total_count": integer,
                "found_count": integer,
                "page_count": integer,
                "per_page": integer,
                "page": integer,
            },
        }

    def get_schema_operation_parameters(self, view):
        return [
            {
                "name": "page",
                "required": False,
                "in": "query",
                "schema": {"type": "integer", "minimum": 1, "maximum": PAGE_MAX, "default": 1},
                "description": "Page number of results to return",
            },
            {
                "name": "per_page",
                "required": False,
                "in": "query",
                "schema": {
                    "type": "integer",
                    "minimum": 1,
                    "maximum": settings.PAGE_SIZE_MAX,
                    "default": settings.PAGE_SIZE_DEFAULT,
                },
                "description": "Number of documents to return per page",
            },
        ]
