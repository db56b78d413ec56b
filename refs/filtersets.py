"""Query-string filters of the reference and OTU lists (django-filter).

A bad value is Virtool's 422 "Invalid query" with the parameter's errors, never ignored.
"""

import django_filters
from django.db.models import Q

from refs.models import OTU, Reference

BOOLEAN_CHOICES = [("true", "true"), ("false", "false")]


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
