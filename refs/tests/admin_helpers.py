"""Helpers for the admin tests (refs, history, indexes, analyses)."""

import pytest
from django.contrib.messages import get_messages

from history.models import Change


def messages_of(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def change_fields(change: Change) -> dict:
    """What must be identical between an admin edit and the same API edit."""
    return {
        "method_name": change.method_name,
        "description": change.description,
        "diff": change.diff,
        "otu_version": change.otu_version,
        "user": change.user_id,
        "index": change.index_id,
    }


def otu_form_data(otu, *, name=None, abbreviation=None, schema=None, extra_rows=2) -> dict:
    """The POST body of the editor's OTU form, as a browser sends it (unchanged fields included)."""
    schema = otu.schema if schema is None else schema
    data = {
        "action": "edit_otu",
        "otu-name": otu.name if name is None else name,
        "otu-abbreviation": otu.abbreviation if abbreviation is None else abbreviation,
        "schema-TOTAL_FORMS": str(len(schema) + extra_rows),
        "schema-INITIAL_FORMS": str(len(otu.schema or [])),
        "schema-MIN_NUM_FORMS": "0",
        "schema-MAX_NUM_FORMS": "1000",
    }
    for position, segment in enumerate(schema):
        data[f"schema-{position}-name"] = segment["name"]
        data[f"schema-{position}-molecule"] = segment.get("molecule") or ""
        if segment.get("required", True):
            data[f"schema-{position}-required"] = "on"
    for position in range(len(schema), len(schema) + extra_rows):
        data[f"schema-{position}-name"] = ""
        data[f"schema-{position}-molecule"] = ""
    return data


def sequence_form_data(seq, **changes) -> dict:
    values = {
        "accession": seq.accession,
        "definition": seq.definition,
        "host": seq.host,
        "segment": seq.segment or "",
        "sequence": seq.sequence,
        **changes,
    }
    data = {
        "action": "edit_sequence",
        "isolate_id": seq.isolate.isolate_id,
        "sequence_id": seq.id,
    }
    data.update({f"sequence-{seq.id}-{field}": value for field, value in values.items()})
    return data


@pytest.fixture
def curator(owner):
    """The reference's creator (every right), made staff so they can use the admin."""
    owner.is_staff = True
    owner.save(update_fields=["is_staff"])
    return owner


@pytest.fixture
def web(client, curator):
    """A Django test client signed in to the admin as the curator."""
    client.force_login(curator)
    return client
