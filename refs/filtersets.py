"""Query-string filters of the reference and OTU lists (django-filter).

A bad value is Virtool's 422 "Invalid query" with the parameter's errors, never ignored.
"""

import django_filters
from django.db.models import Q, QuerySet

from refs.models import OTU, Reference
from virtool_site.errors import InvalidQuery

BOOLEAN_CHOICES = [("true", "true"), ("false", "false")]


def _filters_given(filterset_class, query_params) -> bool:
    """Whether a query parameter is one of the filterset's (or one of a filter's suffixed
    parameters, as range filters have)."""
    names = filterset_class.base_filters
    return any(key in names or key.rpartition("_")[0] in names for key in query_params)


def filterset_apply(filterset_class, request, queryset: QuerySet) -> QuerySet:
    """The filtered queryset, or 422 "Invalid query" with the parameters' errors."""
    if not _filters_given(filterset_class, request.query_params):
        # Nothing to validate or filter (and a filterset with its form costs more than the
        # list's own queries).
        return queryset.all()
    filterset = filterset_class(data=request.query_params, queryset=queryset, request=request)
    if not filterset.is_valid():
        errors = {field: [e["message"] for e in errs] for field, errs in filterset.errors.get_json_data().items()}
        raise InvalidQuery(errors=errors)
    return filterset.qs


class ReferenceFilter(django_filters.FilterSet):
    find = django_filters.CharFilter(method="filter_find", max_length=255, help_text="Part of the reference name")

    class Meta:
        model = Reference
        fields = []

    def filter_find(self, queryset, name, value):
        value = value.strip()
        return queryset.filter(name__icontains=value) if value else queryset


class OTUFilter(django_filters.FilterSet):
    term = django_filters.CharFilter(method="filter_term", max_length=255, help_text="Part of the name or abbreviation")
    verified = django_filters.ChoiceFilter(choices=BOOLEAN_CHOICES, method="filter_verified")

    class Meta:
        model = OTU
        fields = []

    def filter_term(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(Q(name__icontains=value) | Q(abbreviation__icontains=value))

    def filter_verified(self, queryset, name, value):
        return queryset.filter(verified=value == "true")
