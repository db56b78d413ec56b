"""Virtool's page envelope: `{documents, total_count, found_count, page_count, per_page, page}`.

`total_count` ignores the search term (a view says how with `get_total_count()`),
`found_count` honours it. A page costs a fixed number of queries: two counts and the page.
"""

import math

from django.conf import settings
from rest_framework import serializers
from rest_framework.pagination import BasePagination
from rest_framework.response import Response

from virtool_site.errors import InvalidQuery


class PageQuerySerializer(serializers.Serializer):
    page = serializers.IntegerField(min_value=1, default=1)
    per_page = serializers.IntegerField(min_value=1, max_value=settings.PAGE_SIZE_MAX, default=settings.PAGE_SIZE_DEFAULT)


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


class VirtoolPagination(BasePagination):
    def paginate_queryset(self, queryset, request, view=None):
        params = query_validate(PageQuerySerializer, request)
        self.page, self.per_page = params["page"], params["per_page"]
        self.found_count = queryset.count()
        get_total = getattr(view, "get_total_count", None)
        self.total_count = get_total() if get_total else self.found_count
        offset = (self.page - 1) * self.per_page
        if offset >= self.found_count:
            # Past the end: nothing to read (and an OFFSET past 2**63 would be a database error).
            return []
        return list(queryset[offset : offset + self.per_page])

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
                "schema": {"type": "integer", "minimum": 1, "default": 1},
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
