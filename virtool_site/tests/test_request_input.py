"""Request input is refused with a clear 400/422, never a 500, and refusing it changes nothing
(issues 15 and 17). Walks the whole URLconf with real objects (`api_world`), as an
administrator, so that every view gets as far as reading its body.

- OPTIONS answers every route whatever body it carries (`virtool_site.api.metadata`).
- Every route x every write method: JSON nested 1,000 (and 50,000) levels deep, as arrays or
  objects, and malformed JSON, are 400 "Malformed request body..." wherever a body is read
  (`virtool_site.api.parsers`); an operation that takes no body never reads one.
- Every documented JSON body refuses a field it does not have (422, `Unknown field.`), and the
  wrong JSON types of issue 17 (`virtool_site.api.inputs`).
- Pages past PAGE_MAX are 422 (/api) or a 400 JSON string (BrAPI).
- The admin's JSON fields read their text with the same bounds.
"""

import functools
import json
import re
import time

import pytest
from django.apps import apps
from django.contrib import admin
from django.db import transaction
from django.db.models import Sum
from django.test import override_settings
from rest_framework.test import APIClient

from refs.models import OTU, Isolate, Reference, Sequence
from virtool_site.api.parsers import JSON_DEPTH_MAX, TOO_DEEP, BoundedJSONDecoder, json_loads, json_too_deep
from virtool_site.testing import url_routes
from virtool_site.tests.api_world import world_build

WRITE_METHODS = ("post", "put", "patch", "delete")
DEEP_ARRAY = "[" * 1000 + "]" * 1000
DEEP_OBJECT = '{"a":' * 1000 + "1" + "}" * 1000
DEEPER_ARRAY = "[" * 50_000 + "]" * 50_000
MALFORMED = '{"name": '

#: Path parameters, as world ids (or literal values).
_PATH_VALUES = {
    "ref_id": "ref_id",
    "otu_id": "otu_id",
    "isolate_id": "isolate_id",
    "sequence_id": "sequence_id",
    "change_id": "change_id",
    "index_id": "index_id",
    "sample_id": "sample_id",
    "analysis_id": "analysis_id",
    "file_id": "file_id",
    "upload_id": "upload_id",
    "process_id": "process_id",
    "key_id": "key_id",
    "job_id": "index_job_id",
    "group_id": "group_id",
    "user_id": "user_id",
    "reference_id": "brapi_reference_id",
    "reference_set_id": "reference_set_id",
    "search_id": "search_id",
    "id": "refget_md5",
    "digest": "seqcol_digest",
    "digest1": "seqcol_digest",
    "digest2": "seqcol_digest",
    "attribute_digest": "seqcol_names",
}
_LITERALS = {"extension": "csv", "name": "reference.fa.gz", "sequence_index": "0", "version": "0",
             "attribute_name": "names", "attribute": "names"}


# The URLconf ---------------------------------------------------------------------------------


def _view_methods(callback) -> list[str]:
    view_class = getattr(callback, "view_class", None) or getattr(callback, "cls", None)
    if view_class is None:
        return []
    return [method for method in view_class.http_method_names if hasattr(view_class, method)]


#: (route, callback) of everything the service answers: the API, BrAPI, refget, the schema
#: and the admin.
ROUTES = sorted(url_routes(), key=lambda item: item[0])
API_ROUTES = [(route, callback) for route, callback in ROUTES if route.startswith(("api/", "brapi/", "refget/"))]


def _url(world, route: str) -> str:
    def value(match):
        name = match.group(1)
        return str(world.ids[_PATH_VALUES[name]]) if name in _PATH_VALUES else _LITERALS.get(name, "x")

    return "/" + re.sub(r"\{(\w+)\}", value, route)


@functools.cache
def _json_body_operations() -> frozenset[tuple[str, str]]:
    """(route, method) of every operation documented with a JSON body, and BrAPI's searches."""
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    operations = {
        (path.lstrip("/"), method)
        for path, item in schema["paths"].items()
        for method, operation in item.items()
        if "application/json" in operation.get("requestBody", {}).get("content", {})
    }
    return frozenset(operations | {("brapi/v2/search/references", "post"), ("brapi/v2/search/referencesets", "post")})


# The world -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker, tmp_path_factory):
    """Built once and rolled back after the module; every request runs in a savepoint."""
    data = tmp_path_factory.mktemp("input-data")
    with django_db_blocker.unblock(), override_settings(DATA_DIR=data), transaction.atomic():
        built = world_build()
        built.data_dir = data
        yield built
        transaction.set_rollback(True)


@pytest.fixture(autouse=True)
def data_dir(settings, world):
    settings.DATA_DIR = world.data_dir
    settings.THROTTLE_RATES = {**settings.THROTTLE_RATES, "write": "100000/minute", "search": "100000/minute"}
    return world.data_dir


def _client(world, caller: str | None = "administrator") -> APIClient:
    client = APIClient()
    if caller is not None:
        client.credentials(HTTP_AUTHORIZATION=world.authorization(caller))
    return client


def _state() -> tuple:
    """Rows of every model of the service, and what an edit of an existing row changes."""
    counts = tuple(
        model._default_manager.count()
        for model in apps.get_models()
        if model._meta.app_label in ("virtool_site", "refs", "history", "indexes", "analyses", "brapi", "auth")
    )
    versions = OTU.objects.aggregate(total=Sum("version"))["total"]
    revisions = Reference.all_objects.aggregate(total=Sum("revision"))["total"]
    texts = (
        tuple(OTU.objects.order_by("id").values_list("name", "abbreviation", "schema")),
        tuple(Isolate.objects.order_by("id").values_list("source_type", "source_name", "default")),
        tuple(Sequence.objects.order_by("id").values_list("accession", "definition", "host", "segment")),
    )
    return counts, versions, revisions, texts


def _send(client, method: str, url: str, body: str | None, content_type="application/json"):
    with transaction.atomic():
        try:
            if body is None:
                return getattr(client, method)(url)
            return getattr(client, method)(url, data=body, content_type=content_type)
        finally:
            transaction.set_rollback(True)


def _message(response) -> str:
    body = response.json()
    return body if isinstance(body, str) else body.get("message", "")


# Issue 15: OPTIONS ---------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    "body", [None, '{"a": 1}', MALFORMED, DEEP_ARRAY, b"\xff\xfe"], ids=["none", "json", "malformed", "deep", "binary"]
)
def test_options_answers_every_route_whatever_its_body(world, body):
    """OPTIONS /api/groups answered 500: DRF's metadata called `get_serializer()` on a view
    without `serializer_class` (and Swagger UI's page, rendered by a template, failed too).
    Now no route reads a body or an object for OPTIONS."""
    failures = []
    for caller in ("administrator", None):
        client = _client(world, caller)
        for route, callback in ROUTES:
            response = _send(client, "options", _url(world, route), body)
            if response.status_code >= 500:
                failures.append((route, caller, response.status_code))
            elif caller == "administrator" and route.startswith("api/") and "options" in _view_methods(callback):
                if response.status_code != 200 or "Allow" not in response or b'"actions"' in response.content:
                    failures.append((route, caller, response.status_code, response.content[:200]))
    assert not failures, failures


@pytest.mark.django_db
def test_options_describes_the_view_and_points_to_no_serializer(world):
    response = _client(world).options("/api/groups", data='{"a": 1}', content_type="application/json")
    assert response.status_code == 200
    assert response.json() == {
        "name": "Groups",
        "description": "",
        "renders": ["application/json", "text/html"],
        "parses": ["application/json", "application/x-www-form-urlencoded", "multipart/form-data"],
    }
    assert set(response["Allow"].replace(" ", "").split(",")) == {"GET", "HEAD", "POST", "OPTIONS"}


# Issue 17: deep and malformed JSON on every write --------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    "body, message",
    [
        (DEEP_ARRAY, TOO_DEEP),
        (DEEP_OBJECT, TOO_DEEP),
        (DEEPER_ARRAY, TOO_DEEP),
        (MALFORMED, "Malformed request body"),
    ],
    ids=["deep-array", "deep-object", "deeper-array", "malformed"],
)
def test_every_write_refuses_deep_or_malformed_json_and_changes_nothing(world, body, message):
    body_operations = _json_body_operations()
    client = _client(world)
    before = _state()
    failures, refused = [], []
    for route, callback in API_ROUTES:
        for method in WRITE_METHODS:
            if method not in _view_methods(callback):
                continue
            response = _send(client, method, _url(world, route), body)
            status = response.status_code
            if status >= 500:
                failures.append((method, route, status))
            elif (route, method) in body_operations:
                brapi = route.startswith("brapi/")
                expected = message.replace("Malformed request body", "Malformed JSON Request Object") if brapi else message
                if status != 400 or _message(response) != expected:
                    failures.append((method, route, status, response.content[:200]))
                refused.append((method, route))
    assert not failures, failures
    assert len(refused) == len(_json_body_operations()), "every operation with a JSON body was reached"
    assert _state() == before


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/api/refs", "/api/account/keys", "/api/samples", "/brapi/v2/search/references"])
def test_a_deep_body_is_refused_as_fast_as_it_is_read(world, path, settings):
    """Fifty thousand levels (100 kB), and a 5 MB body of '[': refused without decoding."""
    client = _client(world)
    started = time.monotonic()
    for body in (DEEPER_ARRAY, "[" * 5_000_000):
        assert _send(client, "post", path, body).status_code == 400
    assert time.monotonic() - started < 5


@pytest.mark.django_db
def test_a_json_body_past_the_size_limit_is_413_whichever_view_reads_it(world, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    response = _send(_client(world), "post", "/api/refs", '{"name": "' + "x" * 2000 + '"}')
    assert response.status_code == 413
    assert response.json() == {"id": "payload_too_large", "message": "Payload too large"}


# The reader itself ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, deep",
    [
        ("[]", False),
        ("[" * JSON_DEPTH_MAX + "]" * JSON_DEPTH_MAX, False),
        ("[" * (JSON_DEPTH_MAX + 1) + "]" * (JSON_DEPTH_MAX + 1), True),
        ('{"a":' * JSON_DEPTH_MAX + "1" + "}" * JSON_DEPTH_MAX, False),
        ('{"a":' * (JSON_DEPTH_MAX + 1) + "1" + "}" * (JSON_DEPTH_MAX + 1), True),
        # Brackets inside strings are text, not nesting (escaped quotes included).
        ('["' + "[" * 100 + '", "\\"[[[[", {"k[": "}}}"}]', False),
        # Wide is not deep: thousands of siblings at depth 3.
        ("[" + ",".join(['{"a": [1]}'] * 5000) + "]", False),
        # Unbalanced brackets are malformed, not deep.
        ("[" + "[]," * 100, False),
    ],
)
def test_depth_is_measured_on_the_text(text, deep):
    assert json_too_deep(text.encode()) is deep


def test_the_reader_refuses_what_postgresql_cannot_store_or_json_does_not_allow():
    from virtool_site.api.parsers import JSONBodyError

    for text in ('"\\ud800"', '["a", "\\udc00"]', "NaN", "[1, Infinity]", "[1,"):
        with pytest.raises(JSONBodyError):
            json_loads(text.encode())
    assert json_loads('"\\ud83d\\ude00 \\\\ud800"'.encode()) == "\U0001f600 \\ud800"


def test_the_admin_json_decoder_refuses_deep_text():
    with pytest.raises(json.JSONDecodeError):
        json.loads(DEEP_ARRAY, cls=BoundedJSONDecoder)
    assert json.loads('{"a": [1]}', cls=BoundedJSONDecoder) == {"a": [1]}


# Issue 17: the admin's JSON fields -----------------------------------------------------------


@pytest.mark.django_db
def test_every_admin_json_form_field_reads_with_the_bounded_decoder(world, rf):
    """Every JSON field of every admin form, add and change forms alike."""
    from django import forms

    request = rf.get("/admin/")
    request.user = world.users["administrator"]
    seen = []
    for model, model_admin in admin.site._registry.items():
        instance = model._default_manager.first()
        for obj in {None, instance}:
            form_class = model_admin.get_form(request, obj)
            for name, field in form_class.base_fields.items():
                if isinstance(field, forms.JSONField):
                    seen.append((model.__name__, name))
                    assert field.decoder is BoundedJSONDecoder, (model.__name__, name)
    assert ("OTU", "schema") in seen


@pytest.mark.django_db
def test_a_deep_json_text_in_an_admin_form_is_a_form_error_not_a_500(world):
    """A BrAPI reference set's additionalInfo: a JSON textarea of the admin's change form."""
    from django.test import Client

    from brapi.models import ReferenceSet

    client = Client()
    client.force_login(world.users["administrator"])
    reference_set = ReferenceSet.objects.get(id=world.ids["reference_set_id"])
    url = f"/admin/brapi/referenceset/{reference_set.id}/change/"
    page = client.get(url)
    assert page.status_code == 200
    form = page.context["adminform"].form
    data = {name: form[name].value() for name in form.fields if form[name].value() is not None}
    for formset in page.context["inline_admin_formsets"]:
        prefix = formset.formset.prefix
        data |= {f"{prefix}-TOTAL_FORMS": "0", f"{prefix}-INITIAL_FORMS": "0"}
    before = reference_set.additional_info
    for text in (DEEP_ARRAY, DEEP_OBJECT):
        with transaction.atomic():
            response = client.post(url, {**data, "additional_info": text})
            transaction.set_rollback(True)
        assert response.status_code == 200
        assert "additional_info" in response.context["adminform"].form.errors
    reference_set.refresh_from_db()
    assert reference_set.additional_info == before


# Issue 17: strict types and unknown fields ---------------------------------------------------


@pytest.mark.django_db
def test_every_documented_json_body_refuses_a_field_it_does_not_have(world):
    """BrAPI's searches ignore unknown fields (BrAPI's rule) and refget's level-2 collections
    take any attribute (the seqcol specification's): both are outside this rule."""
    client = _client(world)
    before = _state()
    failures, checked = [], 0
    for route, callback in API_ROUTES:
        for method in WRITE_METHODS:
            if (route, method) not in _json_body_operations() or not route.startswith("api/"):
                continue
            url = _url(world, route).replace(world.ids["analysis_id"], world.ids["running_id"])
            response = _send(client, method, url, '{"__unknown__": 1}')
            body = response.json()
            if response.status_code != 422 or body["errors"].get("__unknown__") != ["Unknown field."]:
                failures.append((method, route, response.status_code, body))
            checked += 1
    assert not failures, failures
    assert checked > 20
    assert _state() == before


def _errors(response) -> dict:
    assert response.status_code == 422, response.content
    body = response.json()
    assert (body["id"], body["message"]) == ("invalid_input", "Invalid input")
    return body["errors"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    "method, path, body, errors",
    [
        # Issue 17's examples: each was coerced and stored.
        ("post", "/api/refs", {"name": 123}, {"name": ["Not a valid string."]}),
        ("post", "/api/refs", {"name": "Plants", "public": "yes"}, {"public": ["Must be a valid boolean."]}),
        ("patch", "/api/samples/{sample_id}", {"all_write": 0}, {"all_write": ["Must be a valid boolean."]}),
        ("patch", "/api/groups/{group_id}", {"permissions": {"cancel_job": 0}},
         {"permissions": {"cancel_job": ["Must be a valid boolean."]}}),
        ("patch", "/api/otus/{otu_id}", {"schema": [{"name": "A", "required": 0}]},
         {"schema": [{"required": ["Must be a valid boolean."]}]}),
        ("patch", "/api/otus/{otu_id}/isolates/{isolate_id}/sequences/{sequence_id}", {"host": 0},
         {"host": ["Not a valid string."]}),
        ("patch", "/api/otus/{otu_id}", {"abbreviation": "\x1f\x1e"}, {"abbreviation": ["Control characters are not allowed."]}),
        # Unknown fields, at the top and nested.
        ("post", "/api/account/keys", {"name": "k", "nmae": "x"}, {"nmae": ["Unknown field."]}),
        ("patch", "/api/groups/{group_id}", {"permissions": {"cancel_jobs": True}},
         {"permissions": {"cancel_jobs": ["Unknown field."]}}),
        ("post", "/api/refs/{ref_id}/otus", {"name": "X", "schema": [{"name": "A", "molecule": "ssDNA", "kind": 1}]},
         {"schema": [{"kind": ["Unknown field."]}]}),
        # Read-only fields are not input either.
        ("patch", "/api/refs/{ref_id}", {"id": "other"}, {"id": ["Unknown field."]}),
        # Integers are JSON integers; numbers are not text; choices keep their type.
        ("post", "/api/users", {"handle": "someone", "password": "long enough", "administrator": "true"},
         {"administrator": ["Must be a valid boolean."]}),
        ("post", "/api/refs/{ref_id}/otus", {"name": "X", "schema": [{"name": 1}]}, {"schema": [{"name": ["Not a valid string."]}]}),
        ("patch", "/api/refs/{ref_id}", {"source_types": ["isolate", 1]}, {"source_types": {"1": ["Not a valid string."]}}),
        ("post", "/api/refs/{ref_id}/indexes", {"runner": ["celery"]}, None),
        ("post", "/api/samples/{sample_id}/analyses", {"ref_id": "{ref_id}", "workflow": "nuvs", "subtractions": [1]},
         {"subtractions": {"0": ["Not a valid string."]}}),
        # Text as sent: a control character in any text field, and length before trimming.
        ("post", "/api/samples", {"name": "Sample\x00"}, {"name": ["Control characters are not allowed."]}),
        ("post", "/api/samples", {"name": "S", "notes": "a\x7fb"}, {"notes": ["Control characters are not allowed."]}),
        ("post", "/api/refs", {"name": " " + "x" * 255}, {"name": ["Ensure this field has no more than 255 characters."]}),
        ("post", "/api/otus/{otu_id}/isolates", {"source_name": "\x85"}, {"source_name": ["Control characters are not allowed."]}),
    ],
)
def test_wrong_types_unknown_fields_and_control_characters_are_refused(world, method, path, body, errors):
    url = path.format(**world.ids)
    body = {key: value.format(**world.ids) if isinstance(value, str) and "{" in value else value for key, value in body.items()}
    before = _state()
    response = _send(_client(world), method, url, json.dumps(body))
    found = _errors(response)
    if errors is not None:
        assert found == errors
    assert _state() == before


@pytest.mark.django_db
def test_a_nuvs_strand_is_the_number_not_its_text(world):
    results = {"hits": [{"index": 0, "sequence": "ACGT", "orfs": [
        {"index": 0, "pro": "M", "frame": 1, "strand": "1", "pos": [0, 3], "hits": []}]}]}
    url = f"/api/analyses/{world.ids['running_id']}"
    response = _send(_client(world, "analysis_job"), "patch", url, json.dumps({"results": results}))
    assert response.status_code == 422, response.content


@pytest.mark.django_db
@pytest.mark.parametrize(
    "results, field",
    [
        ({"read_count": "12", "subtracted_count": 0, "hits": []}, "read_count"),
        ({"read_count": 12.0, "subtracted_count": 0, "hits": []}, "read_count"),
        ({"read_count": True, "subtracted_count": 0, "hits": []}, "read_count"),
        ({"read_count": 12, "subtracted_count": 0, "hits": [], "extra": 1}, "extra"),
    ],
)
def test_job_results_are_read_strictly(world, results, field):
    url = f"/api/analyses/{world.ids['running_id']}"
    response = _send(_client(world, "analysis_job"), "patch", url, json.dumps({"results": results}))
    assert field in _errors(response)["results"]


@pytest.mark.django_db
def test_valid_bodies_are_still_accepted_and_text_is_trimmed(world):
    client = _client(world)
    url = "/api/otus/{otu_id}".format(**world.ids)
    response = _send(client, "patch", url, json.dumps({"abbreviation": " BSV3\t", "name": "Banana\tstreak virus"}))
    assert response.status_code == 200, response.content
    assert response.json()["abbreviation"] == "BSV3"
    assert _send(client, "post", "/api/account/keys", "{}").status_code == 201
    assert _send(client, "post", "/api/account/keys", json.dumps({"name": "a\tb\nc\r"})).status_code == 201


@pytest.mark.django_db
def test_form_bodies_are_read_as_strictly(world):
    client = _client(world)
    response = _send(client, "post", "/api/account/keys", "name=k&other=1", "application/x-www-form-urlencoded")
    assert _errors(response) == {"other": ["Unknown field."]}


# The OpenAPI document says so ----------------------------------------------------------------


def _resolve(schema: dict, node: dict) -> dict:
    while "$ref" in node:
        node = schema["components"]["schemas"][node["$ref"].rsplit("/", 1)[-1]]
    return node


def _objects(schema: dict, node, seen=None):
    """Every object schema reachable from `node` (through refs, items, properties, oneOf)."""
    seen = set() if seen is None else seen
    if isinstance(node, dict):
        if "$ref" in node:
            name = node["$ref"]
            if name in seen:
                return
            seen.add(name)
            yield from _objects(schema, _resolve(schema, node), seen)
            return
        if node.get("type") == "object" and "properties" in node:
            yield node
        for key in ("items", "oneOf", "anyOf", "allOf"):
            children = node.get(key)
            for child in children if isinstance(children, list) else [children] if children else []:
                yield from _objects(schema, child, seen)
        for child in node.get("properties", {}).values():
            yield from _objects(schema, child, seen)


@pytest.mark.django_db
def test_the_schema_documents_strict_request_bodies_and_bounded_pages(api_client):
    from virtool_site.api.schema import NOT_BLANK_TEXT_PATTERN, TEXT_PATTERN

    schema = api_client.get("/api/schema/?format=json").json()
    objects = 0
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            if not path.startswith("/api/"):
                continue
            body = operation.get("requestBody", {}).get("content", {}).get("application/json")
            if body:
                for node in _objects(schema, body["schema"]):
                    objects += 1
                    assert node.get("additionalProperties") is False, (method, path, node)
                    for name, field in node["properties"].items():
                        field = _resolve(schema, field)
                        if field.get("type") == "string" and not {"enum", "format"} & set(field):
                            assert field.get("pattern"), (method, path, name)
            for parameter in operation.get("parameters", []):
                if parameter["name"] == "page" and parameter["in"] == "query":
                    assert parameter["schema"]["maximum"] == 1_000_000, (method, path)
    assert objects > 30
    assert re.fullmatch(TEXT_PATTERN, "a\tb\nc") and not re.search(TEXT_PATTERN, "a\x1fb")
    assert re.search(NOT_BLANK_TEXT_PATTERN, " a ") and not re.search(NOT_BLANK_TEXT_PATTERN, " \t")


# Issue 17: pages ------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/api/refs", "/api/samples", "/api/history", "/api/jobs", "/api/users", "/api/refs/{ref_id}/otus"])
def test_a_page_past_page_max_is_an_invalid_query_and_the_last_page_is_empty(world, path):
    client = _client(world)
    url = path.format(**world.ids)
    last = client.get(f"{url}?page=1000000&per_page=100")
    assert last.status_code == 200
    assert (last.json()["documents"], last.json()["page"]) == ([], 1_000_000)
    for page in ("1000001", "1" + "0" * 30):
        response = client.get(f"{url}?page={page}")
        assert response.status_code == 422
        body = response.json()
        assert (body["id"], body["message"]) == ("invalid_query", "Invalid query")
        assert body["errors"] == {"page": ["Ensure this value is less than or equal to 1000000."]}


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/brapi/v2/references", "/brapi/v2/referencesets", "/brapi/v2/search/references/{search_id}"])
def test_brapi_pages_past_page_max_are_a_400_json_string(world, path):
    client = _client(world, "owner")
    url = path.format(**world.ids)
    last = client.get(f"{url}?page=1000000")
    assert last.status_code == 200
    assert last.json()["metadata"]["pagination"]["currentPage"] == 1_000_000
    for page in ("1000001", "1" + "0" * 30):
        response = client.get(f"{url}?page={page}")
        assert (response.status_code, response.json()) == (400, "Invalid query parameter page: must be 1000000 or less")


@pytest.mark.django_db
def test_a_brapi_search_body_page_past_page_max_is_a_400_json_string(world):
    client = _client(world, "owner")
    response = _send(client, "post", "/brapi/v2/search/references", json.dumps({"page": 10**30}))
    assert (response.status_code, response.json()) == (
        400,
        "Invalid field of the JSON Request Object: page: must be 1000000 or less",
    )


@pytest.mark.django_db
@pytest.mark.parametrize(
    "method, path, body",
    [
        ("post", "/brapi/v2/search/references", {"externalReferenceIds": ["\x00"]}),
        ("post", "/brapi/v2/search/referencesets", {"externalReferenceSources": ["\x00"]}),
        ("get", "/brapi/v2/references?externalReferenceId=%00", None),
        ("post", "/brapi/v2/search/references", {"externalReferenceIds": ["x"], "externalReferenceSources": ["\x00"]}),
        ("post", "/brapi/v2/search/references", {"referenceDbIds": ["\x00"], "minLength": 3}),
        ("post", "/brapi/v2/search/references", {"accessions": ["a", "\x00"], "externalReferenceIDs": ["\x00"]}),
        ("post", "/brapi/v2/search/referencesets", {"externalReferenceIds": ["x"], "externalReferenceSources": ["\x00"]}),
    ],
)
def test_brapi_criteria_that_can_match_nothing_answer_an_empty_list(world, method, path, body):
    client = _client(world, "owner")
    response = _send(client, method, path, None if body is None else json.dumps(body))
    assert response.status_code == 200, response.content
    assert response.json()["result"]["data"] == []
