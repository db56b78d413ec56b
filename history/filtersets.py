"""Query-string filters of history lists (django-filter); bad values are 422 "Invalid query"."""

import django_filters
from django.db.models import QuerySet

from history.models import Change
from virtool_site.errors import InvalidQuery

#: Parameters a history list understands besides its filters (unknown keys are 422 too, as
#: Virtool's history docs say: "invalid key or value in URL query string").
PAGE_PARAMETERS = ("page", "per_page", "format")


def filterset_apply(filterset_class, request, queryset: QuerySet) -> QuerySet:
    unknown = set(request.query_params) - set(filterset_class.base_filters) - set(PAGE_PARAMETERS)
    errors = {key: ["Unknown query parameter"] for key in sorted(unknown)}
    if not errors and request.query_params.keys().isdisjoint(filterset_class.base_filters):
        # None of the filters is given: nothing to validate or filter (and a filterset with its
        # form costs more than the list's own queries).
        return queryset.all()
    filterset = filterset_class(data=request.query_params, queryset=queryset, request=request)
    if not filterset.is_valid():
        for field, field_errors in filterset.errors.get_json_data().items():
            errors[field] = [e["message"] for e in field_errors]
    if errors:
        raise InvalidQuery(errors=errors)
    return filterset.qs


class ChangeFilter(django_filters.FilterSet):
    class Meta:
        model = Change
        fields = []


class ReferenceChangeFilter(django_filters.FilterSet):
    unbuilt = django_filters.ChoiceFilter(
        choices=[("true", "true"), ("false", "false")],
        method="filter_unbuilt",
        help_text="true: changes not yet in an index build; false: changes in one",
    )

    class Meta:
        model = Change
        fields = []

    def filter_unbuilt(self, queryset, name, value):
        return queryset.filter(index__isnull=value == "true")
