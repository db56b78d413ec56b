"""GET /api/refs/{id}/export?scope=built|unbuilt: reference.json.gz, readable by the import."""

import gzip
import io
import json
from collections import Counter

import pytest

from indexes.models import Index
from refs import services
from refs.models import OTU, Reference
from refs.processes import export
from refs.tests.test_transfer_import import file_form, start_import
from refs.tests.transfer_factories import file_otu, reference_file

pytestmark = pytest.mark.django_db


@pytest.fixture
def reference(curator, tmp_path, django_capture_on_commit_callbacks):
    otus = [file_otu(f"Virus {c}", f"V{c}", isolates=2, sequences=2) for c in "ABCD"]
    return start_import(curator, reference_file(tmp_path / "r.json.gz", otus), django_capture_on_commit_callbacks)


def exported(response) -> dict:
    assert response.status_code == 200, getattr(response, "data", response)
    assert response["Content-Type"] == "application/gzip"
    assert response["Content-Disposition"] == 'attachment; filename="reference.json.gz"'
    return json.loads(gzip.decompress(b"".join(response.streaming_content)))


def content(otus: list[dict]) -> Counter:
    return Counter(json.dumps(file_form(o), sort_keys=True) for o in otus)


def test_unbuilt_export_is_every_otu_as_it_is_now(curator, curator_client, reference):
    otu = OTU.objects.get(reference=reference, name="Virus A")
    services.otu_edit(user=curator, otu_id=otu.id, name="Virus A prime")
    document = exported(curator_client.get(f"/api/refs/{reference.id}/export?scope=unbuilt"))
    assert set(document) == {"data_type", "organism", "name", "created_at", "otus"}
    assert document["name"] == reference.name and document["data_type"] == "genome"
    assert document["created_at"].endswith("Z")
    assert sorted(o["name"] for o in document["otus"]) == ["Virus A prime", "Virus B", "Virus C", "Virus D"]
    first = document["otus"][0]
    assert set(first) == {"_id", "name", "abbreviation", "schema", "taxid", "isolates"}
    assert set(first["isolates"][0]) == {"id", "source_type", "source_name", "default", "sequences"}
    assert set(first["isolates"][0]["sequences"][0]) == {"_id", "accession", "definition", "host", "segment", "sequence"}


def test_built_export_is_each_otu_at_its_last_built_version(curator, curator_client, reference):
    a, b, c, d = (OTU.objects.get(reference=reference, name=f"Virus {x}") for x in "ABCD")
    OTU.objects.filter(id__in=[a.id, b.id, d.id]).update(last_indexed_version=0)
    Index.objects.create(reference=reference, version=0, ready=True, manifest={a.id: 0, b.id: 0, d.id: 0})
    services.otu_edit(user=curator, otu_id=a.id, name="Virus A edited")
    services.otu_edit(user=curator, otu_id=a.id, abbreviation="VAE")
    services.otu_remove(user=curator, otu_id=d.id)
    document = exported(curator_client.get(f"/api/refs/{reference.id}/export?scope=built"))
    by_name = {o["name"]: o for o in document["otus"]}
    # A as built (before both edits), B unchanged, C never built, D removed since the build.
    assert set(by_name) == {"Virus A", "Virus B", "Virus D"}
    assert by_name["Virus A"]["abbreviation"] == "VA" and by_name["Virus A"]["_id"] == a.id


def test_export_scope_defaults_to_built(curator_client, reference):
    assert exported(curator_client.get(f"/api/refs/{reference.id}/export"))["otus"] == []


def test_an_unknown_scope_is_422(curator_client, reference):
    response = curator_client.get(f"/api/refs/{reference.id}/export?scope=everything")
    assert response.status_code == 422
    body = response.json()
    assert body["id"] == "invalid_query" and "scope" in body["errors"]


def test_export_of_an_invisible_reference_is_404(reference, user_factory, client_for):
    response = client_for(user_factory(username="stranger")).get(f"/api/refs/{reference.id}/export")
    assert response.status_code == 404


def test_export_by_an_anonymous_client_is_401(reference, api_client):
    assert api_client.get(f"/api/refs/{reference.id}/export").status_code == 401


def test_export_honours_accept_application_gzip(curator_client, reference):
    response = curator_client.get(f"/api/refs/{reference.id}/export?scope=unbuilt", HTTP_ACCEPT="application/gzip")
    assert len(exported(response)["otus"]) == 4
    missing = curator_client.get("/api/refs/nothere1/export", HTTP_ACCEPT="application/gzip")
    assert missing.status_code == 404


def test_an_export_imports_back_to_the_same_otus(curator, curator_client, reference, tmp_path,
                                                 django_capture_on_commit_callbacks):
    document = exported(curator_client.get(f"/api/refs/{reference.id}/export?scope=unbuilt"))
    path = tmp_path / "exported.json.gz"
    path.write_bytes(gzip.compress(json.dumps(document).encode()))
    again = start_import(curator, path, django_capture_on_commit_callbacks, name="Again")
    again_document = exported(curator_client.get(f"/api/refs/{again.id}/export?scope=unbuilt"))
    assert content(again_document["otus"]) == content(document["otus"])


def test_export_write_writes_the_file_the_stream_gives(reference, tmp_path):
    path = tmp_path / "out.json.gz"
    export.reference_export_write(reference=reference, scope="unbuilt", path=path)
    written = json.loads(gzip.decompress(path.read_bytes()))
    streamed = json.loads(gzip.decompress(b"".join(export.reference_export_stream(reference=reference, scope="unbuilt"))))
    assert content(written["otus"]) == content(streamed["otus"]) and len(written["otus"]) == 4


@pytest.mark.slow
def test_real_reference_round_trip_import_export_import(
    user_factory, client_for, real_reference_path, tmp_path, django_capture_on_commit_callbacks
):
    """The real 2,084-OTU file: import, export, import the export: the same OTUs."""
    user = user_factory(username="roundtrip", create_ref=True)
    client = client_for(user)
    with gzip.open(real_reference_path) as handle:
        original = json.load(handle)["otus"]
    first = start_import(user, real_reference_path, django_capture_on_commit_callbacks, name="First")
    assert OTU.objects.filter(reference=first).count() == 2084
    response = client.get(f"/api/refs/{first.id}/export?scope=unbuilt")
    assert response.status_code == 200
    path = tmp_path / "export.json.gz"
    with open(path, "wb") as handle:
        for chunk in response.streaming_content:
            handle.write(chunk)
    second = start_import(user, path, django_capture_on_commit_callbacks, name="Second")
    assert OTU.objects.filter(reference=second).count() == 2084
    with gzip.open(path) as handle:
        exported_otus = json.load(handle)["otus"]

    normalised = [file_form({**o, "abbreviation": o["abbreviation"] or "", "taxid": o.get("taxid"),
                             "isolates": [{**i, "sequences": [{**s, "host": s["host"] or "", "segment": s.get("segment")}
                                                              for s in i["sequences"]]} for i in o["isolates"]]})
                  for o in original]
    first_content = content(exported_otus)
    assert first_content == Counter(json.dumps(o, sort_keys=True) for o in normalised)
    second_export = io.BytesIO(b"".join(client.get(f"/api/refs/{second.id}/export?scope=unbuilt").streaming_content))
    assert content(json.loads(gzip.decompress(second_export.getvalue()))["otus"]) == first_content
    assert Reference.objects.filter(id__in=[first.id, second.id]).count() == 2


def test_non_ascii_names_empty_isolates_and_empty_otus_round_trip_through_api_and_command(
    curator, curator_client, tmp_path, django_capture_on_commit_callbacks
):
    from django.core.management import call_command

    accented = file_otu("Virus à é 病毒 ñ", "ÄB", isolates=2, sequences=2)
    accented["isolates"][0]["source_name"] = "Kraków"
    accented["isolates"][0]["sequences"][0]["definition"] = "Définition \u2603"
    hollow = file_otu("Empty isolate virus", "EIV", isolates=2, sequences=1)
    hollow["isolates"][1]["sequences"] = []
    bare = file_otu("No isolate virus", "", isolates=0)
    source = [accented, hollow, bare]
    first = start_import(curator, reference_file(tmp_path / "r.json.gz", source), django_capture_on_commit_callbacks)
    api = exported(curator_client.get(f"/api/refs/{first.id}/export?scope=unbuilt"))
    path = tmp_path / "command.json.gz"
    call_command("export_reference", first.id, str(path), "--no-progress", stdout=io.StringIO(), stderr=io.StringIO())
    command = json.loads(gzip.decompress(path.read_bytes()))
    again = start_import(curator, path, django_capture_on_commit_callbacks, name="Again")
    second = exported(curator_client.get(f"/api/refs/{again.id}/export?scope=unbuilt"))
    for document in (api, command, second):
        assert content(document["otus"]) == content(source)
