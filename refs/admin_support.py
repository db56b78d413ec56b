"""Pieces every curation admin shares: who is a curator, which references they curate, service
errors shown as admin messages, links between admin pages, and a reference filter.

Virtool's rights, not Django's model permissions, decide what a curator may do: the admin asks
the same functions as the API (`refs.permissions`, `analyses.permissions`), and the services
check them again, so nothing done in the admin escapes the rules.
"""

from django.contrib import admin, messages
from django.contrib.admin.utils import quote
from django.db import transaction
from django.db.models import Q, QuerySet
from django.http import HttpResponseRedirect
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html

from refs.models import Reference, ReferenceGroup, ReferenceUser
from refs.permissions import RIGHTS, references_visible
from virtool_site.admin import NulSafeChangeListMixin
from virtool_site.errors import ApplicationError


def is_curator(user) -> bool:
    return bool(user and user.is_active and user.is_staff)


def references_curated(user) -> QuerySet[Reference]:
    """Live references the user holds at least one right on (superusers: every reference).

    A reference that is merely public or shared without rights stays out of a staff user's
    admin: the admin is for the references they curate.
    """
    if user is not None and getattr(user, "is_superuser", False):
        return Reference.objects.all()
    if not is_curator(user):
        return Reference.objects.none()
    any_right = Q()
    for right in RIGHTS:
        any_right |= Q(**{right: True})
    return references_visible(user).filter(
        Q(id__in=ReferenceUser.objects.filter(any_right, user=user).values("reference_id"))
        | Q(id__in=ReferenceGroup.objects.filter(any_right, group__user=user).values("reference_id"))
    )


def admin_url(model_or_label: str, pk, view: str = "change") -> str | None:
    """`admin_url("refs.otu", id)` → /admin/refs/otu/<id>/change/ (None when not registered)."""
    app_label, model_name = model_or_label.lower().split(".")
    try:
        return reverse(f"admin:{app_label}_{model_name}_{view}", args=[quote(pk)])
    except NoReverseMatch:
        return None


def admin_link(model_or_label: str, pk, text=None):
    if pk is None:
        return "-"
    url = admin_url(model_or_label, pk)
    text = pk if text is None else text
    return format_html('<a href="{}">{}</a>', url, text) if url else text


def error_text(error: ApplicationError) -> str:
    """The API's message, with its field errors when it has any."""
    if not error.errors:
        return error.message
    if isinstance(error.errors, dict):
        details = "; ".join(
            f"{field}: {', '.join(map(str, problems)) if isinstance(problems, (list, tuple)) else problems}"
            for field, problems in error.errors.items()
        )
    else:
        details = str(error.errors)
    return f"{error.message} ({details})"


class ServiceErrorsMixin:
    """A service refusing (ApplicationError) becomes an admin error message, never a 500.

    Django runs the change form and the delete view in a transaction, so everything the
    request wrote is rolled back before the message is shown: nothing changed.
    """

    def _refused(self, request, error: ApplicationError):
        self.message_user(request, error_text(error), messages.ERROR)
        return HttpResponseRedirect(request.get_full_path())

    def changeform_view(self, request, *args, **kwargs):
        try:
            return super().changeform_view(request, *args, **kwargs)
        except ApplicationError as error:
            return self._refused(request, error)

    def delete_view(self, request, *args, **kwargs):
        try:
            return super().delete_view(request, *args, **kwargs)
        except ApplicationError as error:
            return self._refused(request, error)


class CuratorAdminMixin(NulSafeChangeListMixin):
    """Active staff users reach these pages; what they see is narrowed by `get_queryset`."""

    def has_module_permission(self, request):
        return is_curator(request.user)

    def has_view_permission(self, request, obj=None):
        return is_curator(request.user)


def delete_selected_through_services(modeladmin, request, queryset):
    """Django's "Delete selected" (same confirmation page), but all or nothing: a refusal from a
    service rolls back every deletion and shows the API's message."""
    from django.contrib.admin.actions import delete_selected

    try:
        with transaction.atomic():
            return delete_selected(modeladmin, request, queryset)
    except ApplicationError as error:
        modeladmin.message_user(request, error_text(error), messages.ERROR)
        return None


delete_selected_through_services.short_description = "Delete selected %(verbose_name_plural)s"
delete_selected_through_services.allowed_permissions = ("delete",)
delete_selected_through_services.__name__ = "delete_selected"


class CuratedReferenceFilter(admin.SimpleListFilter):
    """Filter by one of the references the user curates (one query, whatever the page size)."""

    title = "reference"
    parameter_name = "reference"
    #: The lookup that holds the reference id on the filtered model.
    field = "reference_id"

    def lookups(self, request, model_admin):
        return list(references_curated(request.user).order_by("name").values_list("id", "name"))

    def queryset(self, request, queryset):
        if self.value():
            return queryset.filter(**{self.field: self.value()})
        return queryset

