"""Query-string filters of history lists (django-filter); bad values are 422 "Invalid query"."""

import django_filters
from django.db.models import QuerySet

from history.models import Change
from virtool_site.api.filtersets import filterset_apply as api_filterset_apply


def filterset_apply(filterset_class, request, queryset: QuerySet) -> QuerySet:
    """As the API's, and an unknown query parameter is 422 too, as Virtool's history docs say:
    "invalid key or value in URL query string"."""
    return api_filterset_apply(filterset_class, request, queryset, refuse_unknown=True)


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
