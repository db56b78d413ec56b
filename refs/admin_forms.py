"""Forms of the admin's OTU editor.

The forms only collect what a curator typed. What is sent to a service is the set of fields
that differ from the stored values, validated by the API's own input serializers, so a submit
makes exactly the call (and the Change) the equivalent API request makes.
"""

import re

from django import forms

from refs.api import serializers as api
from refs.api.serializers import MOLECULES


def serializer_validate(serializer_class, data: dict, form: forms.Form | None = None) -> dict | None:
    """The API serializer's validated data, or None with its errors added to `form`."""
    serializer = serializer_class(data=data)
    if serializer.is_valid():
        return dict(serializer.validated_data)
    if form is not None:
        for field, problems in serializer.errors.items():
            target = field if field in form.fields else None
            for problem in _flatten(problems):
                form.add_error(target, problem if target else f"{field}: {problem}")
    return None


def _flatten(problems):
    if isinstance(problems, dict):
        for key, value in problems.items():
            for problem in _flatten(value):
                yield f"{key}: {problem}"
    elif isinstance(problems, (list, tuple)):
        for value in problems:
            yield from _flatten(value)
    else:
        yield str(problems)


class OTUForm(forms.Form):
    name = forms.CharField(max_length=255)
    abbreviation = forms.CharField(max_length=255, required=False)


class OTUAddForm(OTUForm):
    reference = forms.ChoiceField(help_text="References on which you hold the modify_otu right.")
    field_order = ["reference", "name", "abbreviation"]

    def __init__(self, *args, references=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["reference"].choices = [(r.id, f"{r.name} ({r.id})") for r in references]


class SchemaSegmentForm(forms.Form):
    name = forms.CharField(max_length=255, required=False)
    molecule = forms.ChoiceField(choices=[("", "—")] + [(m, m) for m in MOLECULES], required=False)
    required = forms.BooleanField(required=False)


SchemaFormSet = forms.formset_factory(SchemaSegmentForm, extra=2, can_delete=True)


def schema_initial(schema: list) -> list[dict]:
    return [
        {"name": s.get("name", ""), "molecule": s.get("molecule") or "", "required": s.get("required", True)}
        for s in schema or []
    ]


def schema_normalized(schema: list) -> list[dict]:
    """A schema as the API's serializer would return it, to tell an unchanged schema."""
    return [
        {"name": s.get("name"), "molecule": s.get("molecule") or None, "required": bool(s.get("required", True))}
        for s in schema or []
    ]


def schema_from_formset(formset) -> list[dict]:
    """The segments in page order; blank and deleted rows left out."""
    schema = []
    for form in formset.forms:
        data = form.cleaned_data
        if not data or data.get("DELETE") or not (data.get("name") or "").strip():
            continue
        schema.append({"name": data["name"], "molecule": data.get("molecule") or None, "required": data["required"]})
    return schema


class IsolateForm(forms.Form):
    source_type = forms.CharField(max_length=64, required=False, widget=forms.TextInput(attrs={"list": "source-types"}))
    source_name = forms.CharField(max_length=255, required=False)


class IsolateAddForm(IsolateForm):
    default = forms.BooleanField(required=False, label="Make default")


class SequenceForm(forms.Form):
    accession = forms.CharField(max_length=255)
    definition = forms.CharField(required=False, widget=forms.TextInput(attrs={"size": 60}))
    host = forms.CharField(max_length=255, required=False)
    segment = forms.ChoiceField(required=False)
    sequence = forms.CharField(widget=forms.Textarea(attrs={"rows": 4, "cols": 80, "class": "sequence"}))

    def __init__(self, *args, schema=(), current_segment=None, **kwargs):
        super().__init__(*args, **kwargs)
        names = [s.get("name") for s in schema or [] if s.get("name")]
        if current_segment and current_segment not in names:
            names.append(current_segment)
        self.fields["segment"].choices = [("", "—")] + [(n, n) for n in names]


def _sequence_unchanged(submitted: str, stored: str) -> bool:
    return re.sub(r"\s+", "", submitted or "").upper() == (stored or "")


# What a submit changes ------------------------------------------------------------------------


def otu_changes(form: OTUForm, formset, otu) -> dict | None:
    """The PATCH /api/otus/{id} body of this submit (only what differs), validated; None on errors."""
    data = {}
    if form.cleaned_data["name"] != otu.name:
        data["name"] = form.cleaned_data["name"]
    if form.cleaned_data["abbreviation"] != otu.abbreviation:
        data["abbreviation"] = form.cleaned_data["abbreviation"]
    schema = schema_from_formset(formset)
    if schema_normalized(schema) != schema_normalized(otu.schema):
        data["schema"] = schema
    if not data:
        return {}
    return serializer_validate(api.OTUUpdateSerializer, data, form)


def otu_create_data(form: OTUForm, formset) -> dict | None:
    data = {
        "name": form.cleaned_data["name"],
        "abbreviation": form.cleaned_data["abbreviation"],
        "schema": schema_from_formset(formset),
    }
    return serializer_validate(api.OTUCreateSerializer, data, form)


def isolate_changes(form: IsolateForm, isolate) -> dict | None:
    data = {
        field: form.cleaned_data[field]
        for field in ("source_type", "source_name")
        if form.cleaned_data[field] != getattr(isolate, field)
    }
    if not data:
        return {}
    return serializer_validate(api.IsolateUpdateSerializer, data, form)


def isolate_create_data(form: IsolateAddForm) -> dict | None:
    return serializer_validate(api.IsolateCreateSerializer, dict(form.cleaned_data), form)


def sequence_changes(form: SequenceForm, sequence) -> dict | None:
    data = {}
    for field in ("accession", "definition", "host"):
        if form.cleaned_data[field] != getattr(sequence, field):
            data[field] = form.cleaned_data[field]
    if (form.cleaned_data["segment"] or None) != (sequence.segment or None):
        data["segment"] = form.cleaned_data["segment"] or None
    if not _sequence_unchanged(form.cleaned_data["sequence"], sequence.sequence):
        data["sequence"] = form.cleaned_data["sequence"]
    if not data:
        return {}
    return serializer_validate(api.SequenceUpdateSerializer, data, form)


def sequence_create_data(form: SequenceForm) -> dict | None:
    data = dict(form.cleaned_data)
    data["segment"] = data.get("segment") or None
    return serializer_validate(api.SequenceCreateSerializer, data, form)

