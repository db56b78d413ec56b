"""The rights inlines of the reference admin: one row per user or group holding rights on the
reference, saved through `refs.services.reference_{user,group}_{add,edit,remove}`.

Users and groups are one inline and one save path, told apart by the member field (`user` or
`group`); only holders of the `modify` right may change them, as in the API.
"""

from django import forms
from django.contrib import admin
from django.contrib.admin.widgets import RelatedFieldWidgetWrapper

from refs import services
from refs.admin_support import is_curator
from refs.models import Reference, ReferenceGroup, ReferenceUser
from refs.permissions import RIGHTS, reference_has_right

#: The member field of each rights model, which names the kind in the services.
MEMBER_FIELDS = {ReferenceUser: "user", ReferenceGroup: "group"}
#: The field that names a member in the services and the API (user_id, group_id).
MEMBER_NAMES = {"user": "username", "group": "name"}


class RightsInlineForm(forms.ModelForm):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        member_field = MEMBER_FIELDS[self._meta.model]
        if self.instance.pk and member_field in self.fields:
            # An entry belongs to one member; give another member rights with a new row.
            self.fields[member_field].disabled = True
            named_by = getattr(self.fields[member_field], "to_field_name", None)
            if named_by:  # a member typed by name: show (and keep) the entry's by name too
                self.initial[member_field] = getattr(getattr(self.instance, member_field), named_by)


class RightsInline(admin.TabularInline):
    form = RightsInlineForm
    extra = 1
    readonly_fields = ("created_at",)

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        member = MEMBER_FIELDS[cls.model]
        cls.fields = (member, *RIGHTS, "created_at")
        cls.verbose_name = f"{member} right"
        cls.verbose_name_plural = f"{member} rights"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related(MEMBER_FIELDS[self.model])

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        formfield = super().formfield_for_dbfield(db_field, request, **kwargs)
        # A plain select: the add/change/view-user popups are not for curators.
        if formfield is not None and isinstance(formfield.widget, RelatedFieldWidgetWrapper):
            formfield.widget = formfield.widget.widget
        member = MEMBER_FIELDS[self.model]
        if formfield is not None and db_field.name == member and not request.user.is_superuser:
            # Only administrators may list users and groups (GET /api/users, /api/groups): a
            # curator types the member's name, as the API's user_id / group_id.
            formfield = forms.ModelChoiceField(
                queryset=formfield.queryset,
                to_field_name=MEMBER_NAMES[member],
                widget=forms.TextInput,
                label=formfield.label,
                help_text=f"The {member}'s name",
                error_messages={"invalid_choice": f"No such {member}."},
            )
        return formfield

    def has_view_permission(self, request, obj=None):
        return is_curator(request.user)

    def _may_modify(self, request, obj):
        return obj is not None and reference_has_right(user=request.user, reference=obj, right="modify")

    def has_add_permission(self, request, obj=None):
        return self._may_modify(request, obj)

    def has_change_permission(self, request, obj=None):
        return self._may_modify(request, obj)

    def has_delete_permission(self, request, obj=None):
        return self._may_modify(request, obj)


class ReferenceUserInline(RightsInline):
    model = ReferenceUser


class ReferenceGroupInline(RightsInline):
    model = ReferenceGroup


def _member_id(kind: str, member) -> str:
    """How the services name a member: a user by username, a group by name."""
    return getattr(member, MEMBER_NAMES[kind])


def rights_formset_save(request, form, formset) -> None:
    """Save a rights inline's changes through the services, and note them as a saved
    formset does (Django's change message reads `new_objects`, `changed_objects`,
    `deleted_objects`)."""
    kind = MEMBER_FIELDS[formset.model]
    reference = Reference.objects.get(pk=form.instance.pk)
    add, edit, remove = (
        getattr(services, f"reference_{kind}_{verb}") for verb in ("add", "edit", "remove")
    )

    formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
    deleted = set(id(f) for f in formset.deleted_forms)
    for entry_form in formset.deleted_forms:
        if entry_form.instance.pk:
            member = getattr(entry_form.instance, kind)
            remove(user=request.user, reference=reference, **{f"{kind}_id": _member_id(kind, member)})
            formset.deleted_objects.append(entry_form.instance)
    for entry_form in formset.forms:
        if id(entry_form) in deleted or not entry_form.has_changed() or not entry_form.cleaned_data:
            continue
        rights = {right: bool(entry_form.cleaned_data.get(right)) for right in RIGHTS}
        if entry_form.instance.pk is None:
            member = entry_form.cleaned_data[kind]
            entry = add(user=request.user, reference=reference, rights=rights, **{f"{kind}_id": _member_id(kind, member)})
            formset.new_objects.append(entry)
        else:
            member = getattr(entry_form.instance, kind)
            entry = edit(user=request.user, reference=reference, rights=rights, **{f"{kind}_id": _member_id(kind, member)})
            formset.changed_objects.append((entry, entry_form.changed_data))
