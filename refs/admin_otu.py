"""The admin's OTU editor: one page with the OTU's fields and schema, its isolates and their
sequences, each with its own small form.

Every submit is one call of a `refs.services` function with the logged-in user, so it records
exactly one Change, the one the equivalent API request records (or none when nothing
changed). Refusals (rights, taken names, bad segments) come back as the API's messages.
"""

from django.contrib import messages
from django.db import transaction
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html

from history.selectors import otu_changes as history_otu_changes
from refs import admin_forms as f
from refs import services
from refs.admin_support import admin_url, error_text, references_curated
from refs.documents import otu_document, otu_issues, otus_with_children
from refs.models import OTU, isolate_name
from refs.permissions import reference_has_right
from virtool_site.errors import ApplicationError, NotFound

#: Changes of the OTU listed under the editor.
HISTORY_SHOWN = 25
#: Characters of a sequence shown in the isolate tables.
SEQUENCE_PREVIEW = 48


def issues_summary(issues: dict | None) -> str:
    """Virtool's verification issues in words ("" when the OTU is verified)."""
    if not issues:
        return ""
    parts = []
    if issues.get("empty_otu"):
        parts.append("no isolates")
    if issues.get("empty_isolate"):
        parts.append(f"{len(issues['empty_isolate'])} isolate(s) without sequences")
    if issues.get("empty_sequence"):
        parts.append(f"{len(issues['empty_sequence'])} empty sequence(s)")
    if issues.get("isolate_inconsistency"):
        parts.append("isolates have different sequence counts")
    return "; ".join(parts)


class OTUEditor:
    def __init__(self, modeladmin, request, otu_id: str):
        self.modeladmin = modeladmin
        self.request = request
        self.user = request.user
        self.otu_id = otu_id
        self.bound = {}  # prefix -> bound form with errors, shown instead of a fresh one
        self.pending = {}  # prefix -> the forms of the submit under way
        self._load()

    def _load(self):
        self.otu = (
            otus_with_children(OTU.objects.select_related("reference").filter(id=self.otu_id))
            .first()
        )
        self.isolates = list(self.otu.isolates.all()) if self.otu else []
        self.can_edit = bool(self.otu) and reference_has_right(
            user=self.user, reference=self.otu.reference_id, right="modify_otu"
        )

    # Submits ----------------------------------------------------------------------------------

    def post(self):
        action = self.request.POST.get("action", "")
        handler = getattr(self, f"_do_{action}", None)
        if handler is None:
            self.modeladmin.message_user(self.request, "Unknown action", messages.ERROR)
            return self._redirect()
        version = self.otu.version
        self.pending = {}
        try:
            description = handler()
        except ApplicationError as error:
            # The service refused and rolled back: show its message, keep what was typed.
            self.modeladmin.message_user(self.request, error_text(error), messages.ERROR)
            for prefix, form in self.pending.items():
                if prefix != "schema":
                    form.add_error(None, error_text(error))
                self.bound[prefix] = form
            self._load()
            return None if self.bound and self.otu else self._redirect()
        if description is None:  # form errors: show the page with them
            return None
        if description == "":
            self.modeladmin.message_user(self.request, "Nothing changed.", messages.INFO)
            return self._redirect()
        return self._saved(version, description)

    def _saved(self, version_before: int, fallback: str):
        after = OTU.objects.filter(id=self.otu_id).values_list("version", flat=True).first()
        if after is None or after == version_before:
            self.modeladmin.message_user(self.request, "Nothing changed.", messages.INFO)
            return self._redirect()
        change_id = f"{self.otu_id}.{after}"
        from history.models import Change

        change = Change.objects.filter(id=change_id).only("id", "description").first()
        text = change.description if change else fallback
        self.modeladmin.log_change(self.request, self.otu, text)
        url = admin_url("history.change", change_id) if change else None
        if url:
            message = format_html('{} — <a href="{}">change {}</a>', text, url, change_id)
        else:
            message = text
        self.modeladmin.message_user(self.request, message, messages.SUCCESS)
        return self._redirect()

    def _redirect(self):
        return HttpResponseRedirect(self.request.path)

    def _form(self, form_class, prefix, **kwargs):
        form = form_class(self.request.POST, prefix=prefix, **kwargs)
        self.pending[prefix] = form
        return form

    def _invalid(self, prefix, form, formset=None):
        self.bound[prefix] = form
        if formset is not None:
            self.bound["schema"] = formset
        return None

    def _isolate(self):
        isolate_id = self.request.POST.get("isolate_id", "")
        for isolate in self.isolates:
            if isolate.isolate_id == isolate_id:
                return isolate
        raise NotFound()

    def _sequence(self, isolate):
        sequence_id = self.request.POST.get("sequence_id", "")
        for sequence in isolate.sequences.all():
            if sequence.id == sequence_id:
                return sequence
        raise NotFound()

    def _do_edit_otu(self):
        form = self._form(f.OTUForm, "otu")
        formset = f.SchemaFormSet(self.request.POST, prefix="schema")
        self.pending["schema"] = formset
        if not (form.is_valid() & formset.is_valid()):
            return self._invalid("otu", form, formset)
        data = f.otu_changes(form, formset, self.otu)
        if data is None:
            return self._invalid("otu", form, formset)
        if not data:
            return ""
        services.otu_edit(user=self.user, otu_id=self.otu.id, **data)
        return "Edited OTU"

    def _do_add_isolate(self):
        form = self._form(f.IsolateAddForm, "new-isolate")
        if not form.is_valid() or (data := f.isolate_create_data(form)) is None:
            return self._invalid("new-isolate", form)
        services.isolate_add(user=self.user, otu_id=self.otu.id, **data)
        return "Added isolate"

    def _do_edit_isolate(self):
        isolate = self._isolate()
        prefix = f"isolate-{isolate.isolate_id}"
        form = self._form(f.IsolateForm, prefix)
        if not form.is_valid() or (data := f.isolate_changes(form, isolate)) is None:
            return self._invalid(prefix, form)
        if not data:
            return ""
        services.isolate_edit(user=self.user, otu_id=self.otu.id, isolate_id=isolate.isolate_id, **data)
        return "Edited isolate"

    def _do_set_default(self):
        isolate = self._isolate()
        services.isolate_set_default(user=self.user, otu_id=self.otu.id, isolate_id=isolate.isolate_id)
        return "Set default isolate"

    def _do_remove_isolate(self):
        isolate = self._isolate()
        services.isolate_remove(user=self.user, otu_id=self.otu.id, isolate_id=isolate.isolate_id)
        return "Removed isolate"

    def _do_add_sequence(self):
        isolate = self._isolate()
        prefix = f"new-sequence-{isolate.isolate_id}"
        form = self._form(f.SequenceForm, prefix, schema=self.otu.schema)
        if not form.is_valid() or (data := f.sequence_create_data(form)) is None:
            return self._invalid(prefix, form)
        services.sequence_create(user=self.user, otu_id=self.otu.id, isolate_id=isolate.isolate_id, **data)
        return "Created sequence"

    def _do_edit_sequence(self):
        isolate = self._isolate()
        sequence = self._sequence(isolate)
        prefix = f"sequence-{sequence.id}"
        form = self._form(f.SequenceForm, prefix, schema=self.otu.schema, current_segment=sequence.segment)
        if not form.is_valid() or (data := f.sequence_changes(form, sequence)) is None:
            return self._invalid(prefix, form)
        if not data:
            return ""
        services.sequence_edit(
            user=self.user, otu_id=self.otu.id, isolate_id=isolate.isolate_id, sequence_id=sequence.id, **data
        )
        return "Edited sequence"

    def _do_remove_sequence(self):
        isolate = self._isolate()
        sequence = self._sequence(isolate)
        services.sequence_remove(
            user=self.user, otu_id=self.otu.id, isolate_id=isolate.isolate_id, sequence_id=sequence.id
        )
        return "Removed sequence"

    # Page ---------------------------------------------------------------------------------------

    def _get(self, prefix, factory):
        return self.bound.get(prefix) or factory()

    def context(self) -> dict:
        otu = self.otu
        document = otu_document(otu)
        issues = otu_issues(document)
        schema = otu.schema or []
        otu_form = self._get(
            "otu", lambda: f.OTUForm(prefix="otu", initial={"name": otu.name, "abbreviation": otu.abbreviation})
        )
        schema_formset = self._get("schema", lambda: f.SchemaFormSet(prefix="schema", initial=f.schema_initial(schema)))
        if not self.can_edit:
            for form in (otu_form, *schema_formset.forms):
                for field in form.fields.values():
                    field.disabled = True
        isolates = []
        for isolate in self.isolates:
            sequences = []
            for sequence in isolate.sequences.all():
                prefix = f"sequence-{sequence.id}"
                sequences.append(
                    {
                        "object": sequence,
                        "length": len(sequence.sequence),
                        "preview": sequence.sequence[:SEQUENCE_PREVIEW],
                        "empty": not sequence.sequence.strip(),
                        "form": self._get(
                            prefix,
                            lambda s=sequence, p=prefix: f.SequenceForm(
                                prefix=p,
                                schema=schema,
                                current_segment=s.segment,
                                initial={
                                    "accession": s.accession,
                                    "definition": s.definition,
                                    "host": s.host,
                                    "segment": s.segment or "",
                                    "sequence": s.sequence,
                                },
                            ),
                        ),
                        "open": prefix in self.bound,
                    }
                )
            edit_prefix = f"isolate-{isolate.isolate_id}"
            add_prefix = f"new-sequence-{isolate.isolate_id}"
            isolates.append(
                {
                    "object": isolate,
                    "name": isolate_name(isolate.source_type, isolate.source_name),
                    "sequences": sequences,
                    "form": self._get(
                        edit_prefix,
                        lambda i=isolate, p=edit_prefix: f.IsolateForm(
                            prefix=p, initial={"source_type": i.source_type, "source_name": i.source_name}
                        ),
                    ),
                    "add_sequence_form": self._get(
                        add_prefix, lambda p=add_prefix: f.SequenceForm(prefix=p, schema=schema)
                    ),
                    "add_open": add_prefix in self.bound,
                    "empty": not sequences,
                }
            )
        reference = otu.reference
        changes = history_otu_changes(otu_id=otu.id, reference_ids=[reference.id])[:HISTORY_SHOWN]
        return {
            "otu": otu,
            "reference": reference,
            "reference_url": admin_url("refs.reference", reference.id),
            "issues": issues,
            "issues_text": issues_summary(issues),
            "can_edit": self.can_edit,
            "otu_form": otu_form,
            "schema_formset": schema_formset,
            "isolates": isolates,
            "add_isolate_form": self._get("new-isolate", lambda: f.IsolateAddForm(prefix="new-isolate")),
            "add_isolate_open": "new-isolate" in self.bound,
            "source_types": (reference.source_types or []) + ["unknown"],
            "restrict_source_types": reference.restrict_source_types,
            "changes": [
                {"object": change, "url": admin_url("history.change", change.id)} for change in changes
            ],
            "history_url": reverse("admin:history_change_changelist") + f"?otu_id={otu.id}",
            "delete_url": admin_url("refs.otu", otu.id, "delete"),
            "api_url": f"/api/otus/{otu.id}",
        }

    def render(self):
        opts = self.modeladmin.model._meta
        context = {
            **self.modeladmin.admin_site.each_context(self.request),
            "opts": opts,
            "app_label": opts.app_label,
            "title": f"OTU {self.otu.name}",
            "subtitle": None,
            "has_view_permission": True,
            **self.context(),
        }
        return TemplateResponse(self.request, "admin/refs/otu/editor.html", context)


class OTUAdder:
    """The add page: reference, name, abbreviation and schema → `otu_create`."""

    def __init__(self, modeladmin, request):
        self.modeladmin = modeladmin
        self.request = request
        self.references = [
            reference
            for reference in references_curated(request.user).order_by("name")
            if reference_has_right(user=request.user, reference=reference, right="modify_otu")
        ]

    def handle(self):
        request = self.request
        if request.method == "POST":
            form = f.OTUAddForm(request.POST, prefix="otu", references=self.references)
            formset = f.SchemaFormSet(request.POST, prefix="schema")
            if form.is_valid() & formset.is_valid():
                data = f.otu_create_data(form, formset)
                if data is not None:
                    try:
                        with transaction.atomic():
                            otu = services.otu_create(
                                user=request.user, reference=form.cleaned_data["reference"], **data
                            )
                    except ApplicationError as error:
                        form.add_error(None, error_text(error))
                    else:
                        self.modeladmin.log_addition(request, otu, f"Created {otu.name}")
                        self.modeladmin.message_user(
                            request,
                            format_html(
                                'Created <a href="{}">{}</a>', admin_url("refs.otu", otu.id), otu.name
                            ),
                            messages.SUCCESS,
                        )
                        return HttpResponseRedirect(admin_url("refs.otu", otu.id))
        else:
            initial = {}
            if request.GET.get("reference"):
                initial["reference"] = request.GET["reference"]
            form = f.OTUAddForm(prefix="otu", references=self.references, initial=initial)
            formset = f.SchemaFormSet(prefix="schema")
        opts = self.modeladmin.model._meta
        context = {
            **self.modeladmin.admin_site.each_context(request),
            "opts": opts,
            "app_label": opts.app_label,
            "title": "Add OTU",
            "subtitle": None,
            "form": form,
            "schema_formset": formset,
            "has_references": bool(self.references),
        }
        return TemplateResponse(request, "admin/refs/otu/add.html", context)
