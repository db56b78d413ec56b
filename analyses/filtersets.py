import django_filters
from django.db.models import Q

from analyses.models import Sample


class SampleFilterSet(django_filters.FilterSet):
    """`find` matches a sample's name, host or isolate, or its owner's username."""

    find = django_filters.CharFilter(method="filter_find", max_length=255)

    class Meta:
        model = Sample
        fields = []

    def filter_find(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(
            Q(name__icontains=value)
            | Q(host__icontains=value)
            | Q(isolate__icontains=value)
            | Q(user__username__icontains=value)
        )
