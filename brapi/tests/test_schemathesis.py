"""Property-based conformance: schemathesis with the official BrAPI-Genotyping-2.1 document.

Every references/referencesets operation is exercised through the Django WSGI app with
generated (valid and invalid) parameters and bodies, and every response is checked by
schemathesis' default checks. Path ids are sometimes replaced with ids that exist, so that
successful responses are checked too, not only 404s.

The document is adapted in three ways, each where the official YAML cannot say what the
BrAPI documentation says (the adaptations never relax what a request may contain):
- every response field is nullable: BrAPI servers emit unknown fields as null and BRAVA's
  schemas (draft-04, `["null", type]`) require them, but the OpenAPI 3.0 bundle has no
  `nullable`;
- security is optional: the Authorization header is documented as optional and public data
  is readable anonymously;
- 404 is documented for the operations taking a DbId in the path where the YAML omits it
  (`references/{referenceDbId}` has it; `referencesets/{referenceSetDbId}` and the search
  results do not), and 400/401/403 (BrAPI's common errors) where an operation omits them;
- page, pageSize (query and search bodies), start and end get the lower bounds the BrAPI
  text states, and page the upper bound this server states (`brapi.api.queries.PAGE_MAX`:
  a page past any list real data makes is a 400, as any bad parameter).
Unknown query parameters are not generated as invalid input: BrAPI (and DESIGN.md) require
them to be ignored. A bases range that the schema cannot rule out but the issue requires to
be refused (start > end, start past the end) must be a 400 with a message, and is checked as
such instead of by `positive_data_acceptance`.
"""

import collections
import copy
import random

import pytest
import schemathesis
import yaml
from hypothesis import HealthCheck, settings
from schemathesis.core.parameters import ParameterLocation
from schemathesis.specs.openapi.checks import positive_data_acceptance

from brapi.api.queries import PAGE_MAX
from brapi.tests.conftest import GENOTYPING_YAML
from virtool_site.services import api_key_create
from virtool_site.wsgi import application

# The coverage check reads what the conformance test recorded: one process runs both.
pytestmark = pytest.mark.xdist_group("brapi_fuzz")

_RESPONSE_TYPES = {"object", "array", "string", "integer", "number", "boolean"}


def _nullable(node):
    if isinstance(node, dict):
        if isinstance(node.get("type"), str) and node["type"] in _RESPONSE_TYPES:
            node["nullable"] = True
        for value in node.values():
            _nullable(value)
    elif isinstance(node, list):
        for value in node:
            _nullable(value)


def _adapted_document() -> dict:
    raw = yaml.safe_load(GENOTYPING_YAML.read_text())
    raw = copy.deepcopy(raw)
    components = raw["components"]
    for name, schema in components["schemas"].items():
        if "SearchRequest" not in name:  # request bodies keep their exact types
            _nullable(schema)
    _nullable(components["responses"])
    for path, item in raw["paths"].items():
        for operation in item.values():
            if not isinstance(operation, dict):
                continue
            for response in operation.get("responses", {}).values():
                _nullable(response)
            responses = operation.setdefault("responses", {})
            for code, name in (("400", "400BadRequest"), ("401", "401Unauthorized"), ("403", "403Forbidden")):
                responses.setdefault(code, {"$ref": f"#/components/responses/{name}"})
            if "{" in path:
                responses.setdefault("404", {"$ref": "#/components/responses/404NotFound"})
            for parameter in operation.get("parameters", []):
                _bound(raw, parameter)
    paging = components["schemas"]["SearchRequestParametersPaging"]["properties"]
    paging["page"]["minimum"] = _MINIMUMS["page"]
    paging["page"]["maximum"] = PAGE_MAX
    paging["pageSize"]["minimum"] = _MINIMUMS["pageSize"]
    raw["security"] = [{}, {"AuthorizationToken": []}]
    return raw


#: Lower bounds the BrAPI text states but the YAML leaves out ("page indexing starts at 0",
#: "positions are non-negative integers").
_MINIMUMS = {"page": 0, "pageSize": 1, "start": 0, "end": 0}


def _bound(raw: dict, parameter: dict) -> None:
    if "$ref" in parameter:
        parameter = raw["components"]["parameters"][parameter["$ref"].rsplit("/", 1)[-1]]
    if parameter.get("in") == "query" and parameter.get("name") in _MINIMUMS:
        parameter["schema"]["minimum"] = _MINIMUMS[parameter["name"]]
    if parameter.get("in") == "query" and parameter.get("name") == "page":
        parameter["schema"]["maximum"] = PAGE_MAX


schema = schemathesis.openapi.from_dict(_adapted_document()).include(
    path_regex=r"^/(search/)?reference(s|sets)(/|$)"
)
schema.app = application
schema.config.update(base_url="http://localhost/brapi/v2")
schema.config.generation.update(allow_extra_parameters=False)


@pytest.fixture
def brapi_data(user, published, public_published, assembly, wsgi_keeps_test_connection, settings):
    """Published and imported sets; their ids, to put into generated paths."""
    from django.contrib.auth.models import AnonymousUser

    # Searches are rate-limited (429, which the official document does not list); a run
    # makes more of them than the default rate allows, and conformance is what is tested here.
    settings.THROTTLE_RATES = {**settings.THROTTLE_RATES, "search": "100000/minute"}

    from brapi.models import Reference, ReferenceSet
    from brapi.selectors import references_visible
    from brapi.services import search_create

    _, secret = api_key_create(user=user, name="schemathesis")
    searches = [
        search_create(user=owner, kind=kind, criteria={}, page_size=1).id
        for owner in (user, None)
        for kind in ("references", "referencesets")
    ]
    return {
        "searchResultsDbId": searches,
        "own_searches": searches[:2],
        "api_key": secret,
        # In a fixed order (the ids are random, their order need not be): seeded choices pick
        # the same kind of object on every run.
        "referenceDbId": list(
            Reference.objects.order_by("reference_set__created_at", "position").values_list("id", flat=True)
        ),
        "referenceSetDbId": list(ReferenceSet.objects.order_by("created_at").values_list("id", flat=True)),
        # Generated requests carry no valid credentials: only public references answer 200.
        "lengths": dict(references_visible(AnonymousUser()).values_list("id", "length")),
        "owner_lengths": dict(references_visible(user).values_list("id", "length")),
    }


def test_operations_are_covered():
    paths = {operation.path for operation in (result.ok() for result in schema.get_all_operations())}
    assert paths == {
        "/referencesets",
        "/referencesets/{referenceSetDbId}",
        "/search/referencesets",
        "/search/referencesets/{searchResultsDbId}",
        "/references",
        "/references/{referenceDbId}",
        "/references/{referenceDbId}/bases",
        "/search/references",
        "/search/references/{searchResultsDbId}",
    }


@pytest.mark.django_db
@schema.parametrize()
@settings(max_examples=40, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
def test_brapi_conforms_to_the_official_spec(case, brapi_data):
    rng = random.Random(repr((case.path_parameters, case.query)))
    path_parameters = case.path_parameters or {}
    for name in ("referenceDbId", "referenceSetDbId", "searchResultsDbId"):
        if name in path_parameters and rng.random() < 0.6:
            path_parameters[name] = rng.choice(brapi_data[name])
    # A saved search answers only whoever made it: with one of the user's own ids, send the
    # user's key, so that search paging reaches its successful responses too.
    owner_search = path_parameters.get("searchResultsDbId") in brapi_data["own_searches"]
    _credentials(case, rng, f"Bearer {brapi_data['api_key']}", force=owner_search)
    if case.path == "/references/{referenceDbId}/bases" and _refused_bases(case, brapi_data):
        response = case.call()
        assert response.status_code == 400, response.text
        assert isinstance(response.json(), str)
        case.validate_response(response, excluded_checks=[positive_data_acceptance])
    else:
        response = case.call_and_validate()
    STATUSES.setdefault(case.path, []).append(response.status_code)


#: Statuses seen per operation: the run must reach successful responses, not only errors.
STATUSES: dict[str, list[int]] = {}


def _credentials(case, rng: random.Random, valid: str, force: bool = False) -> None:
    """A generated `Bearer <random>` is always refused (401) before anything else is looked
    at; unless the header itself is the invalid part of the case, send the owner's real key
    or no credentials instead, so that the rest of the request is what gets tested."""
    if case.meta is not None and case.meta.is_negative_at(ParameterLocation.HEADER):
        return
    if case.headers is None:
        case.headers = {}
    choice = 0.0 if force else rng.random()
    if choice < 0.5:
        case.headers["Authorization"] = valid
    elif choice < 0.9:
        case.headers.pop("Authorization", None)


def test_the_run_reached_successful_responses(capsys):
    """Every operation answered 200 at least once; how often each answered what is printed."""
    if not STATUSES:
        pytest.skip("run with the conformance test")
    with capsys.disabled():
        print(f"\n{'operation':<48} {'2xx':>4} {'4xx':>4}  statuses (status: count)")
        for path, statuses in sorted(STATUSES.items()):
            success = sum(200 <= status < 300 for status in statuses)
            refused = sum(400 <= status < 500 for status in statuses)
            counts = ",".join(f"{status}:{count}" for status, count in sorted(collections.Counter(statuses).items()))
            print(f"{path:<48} {success:>4} {refused:>4}  {counts}")
    missing = sorted(path for path, statuses in STATUSES.items() if 200 not in statuses)
    assert not missing, missing
    assert len(STATUSES) == 9, "every operation was called"


def _as_int(value):
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("+-").isdigit():
        return int(value)
    return None


def _refused_bases(case, brapi_data: dict) -> bool:
    """Schema-valid bases requests the server must refuse with a 400 (see module docstring):
    start > end; then, for an existing reference, start past its end or a page token it did
    not issue (tokens are opaque and signed, so no generated token is valid)."""
    if case.meta is None or not case.meta.generation.mode.is_positive:
        return False
    authorization = (case.headers or {}).get("Authorization")
    if authorization is None:
        lengths = brapi_data["lengths"]
    elif authorization == f"Bearer {brapi_data['api_key']}":
        lengths = brapi_data["owner_lengths"]
    else:
        return False  # a generated token is refused first (401)
    query = case.query or {}
    start, end = _as_int(query.get("start")), _as_int(query.get("end"))
    if any(query.get(name) is not None and value is None for name, value in (("start", start), ("end", end))):
        return False  # not an integer: negative data, checked as usual
    if start is not None and end is not None and start > end:
        return True
    length = lengths.get((case.path_parameters or {}).get("referenceDbId"))
    if length is None:
        return False
    if query.get("pageToken"):
        return True
    return start is not None and start >= length and not (start == 0 and length == 0)

