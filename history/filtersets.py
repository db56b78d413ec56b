"""Query-string filters of history lists (django-filter); bad values are 422 "Invalid query"."""

import django_filters

from history.models import Change


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
