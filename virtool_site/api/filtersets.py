"""Query-string filters (django-filter) read the API's way: a bad value is Virtool's 422
"Invalid query" with the parameter's errors, never ignored."""

from django.db.models import QuerySet

from virtool_site.api.pagination import PAGE_PARAMETERS
from virtool_site.errors import InvalidQuery


def _filters_given(filterset_class, query_params) -> bool:
    """Whether a query parameter is one of the filterset's (or one of a filter's suffixed
    parameters, as range filters have)."""
    names = filterset_class.base_filters
    return any(key in names or key.rpartition("_")[0] in names for key in query_params)


def filterset_bound(filterset_class, request, queryset: QuerySet, *, refuse_unknown: bool = False):
    """The filterset bound to the query and validated, or None when no filter is given;
    422 "Invalid query" with the parameters' errors; with `refuse_unknown`, a parameter that is
    neither a filter nor a page parameter is one too."""
    errors = {}
    if refuse_unknown:
        unknown = set(request.query_params) - set(filterset_class.base_filters) - PAGE_PARAMETERS
        errors = {key: ["Unknown query parameter"] for key in sorted(unknown)}
    if not errors and not _filters_given(filterset_class, request.query_params):
        # Nothing to validate or filter (and a filterset with its form costs more than the
        # list's own queries).
        return None
    filterset = filterset_class(data=request.query_params, queryset=queryset, request=request)
    if not filterset.is_valid():
        for field, field_errors in filterset.errors.get_json_data().items():
            errors[field] = [e["message"] for e in field_errors]
    if errors:
        raise InvalidQuery(errors=errors)
    return filterset


def filterset_apply(filterset_class, request, queryset: QuerySet, *, refuse_unknown: bool = False) -> QuerySet:
    """The filtered queryset, or 422 "Invalid query" (see `filterset_bound`)."""
    filterset = filterset_bound(filterset_class, request, queryset, refuse_unknown=refuse_unknown)
    return queryset.all() if filterset is None else filterset.qs


def filterset_values(filterset_class, request, *, refuse_unknown: bool = False) -> dict:
    """The given filters' cleaned values (validated as `filterset_apply` validates them), for
    reads written in SQL; {} when no filter is given."""
    from django_filters.constants import EMPTY_VALUES

    model = filterset_class._meta.model
    filterset = filterset_bound(filterset_class, request, model._default_manager.none(), refuse_unknown=refuse_unknown)
    if filterset is None:
        return {}
    return {name: value for name, value in filterset.form.cleaned_data.items() if value not in EMPTY_VALUES}
