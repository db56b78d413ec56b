"""Contract fuzzing: schemathesis against the service's own OpenAPI document (/api/schema/).

Every operation of the document is called through the Django WSGI app with generated valid and
invalid parameters and bodies, as an administrator and as a signed-in user without any right,
and every response goes through schemathesis' checks: no server error, only documented status
codes and content types, bodies that conform to the documented schemas, invalid data refused
and valid data not refused for a reason the document does not give.

Path ids are often replaced with ids of real objects (see `api_world`), so that successful
responses, and the 403s of objects that exist, are checked too, not only 404s. Each example
runs in its own savepoint, rolled back after the call, so a DELETE in one example does not
take the objects away from the next.

Two of schemathesis' checks are narrowed, each only where the document cannot say more:
- valid data may be refused with 400 (the spec's domain rules: "Segment does not exist", ...)
  and with 422 for the rules listed in SEMANTIC_422 (between fields, or about other objects)
  or for NUL characters in text; any other 422 to schema-valid data means the schema is
  missing a constraint;
- invalid data whose only fault is a scalar DRF coerces (a number for a text field, "true"
  for a boolean), or surrounding whitespace DRF trims off a too long text, may be accepted.

Bounded for CI: a few examples per operation, no shrinking, derandomized (reproducible).
"""

import collections
import os
import random

import pytest
import schemathesis
from django.db import transaction
from hypothesis import HealthCheck, Phase, settings
from schemathesis.specs.openapi.checks import negative_data_rejection, positive_data_acceptance

from refs.tests.transfer_factories import FakeGitHub, gz_bytes
from virtool_site.tests.api_world import REMOTE_SLUG, world_build
from virtool_site.wsgi import application

#: schemathesis' WSGI transport reads a response without closing it, so Django's end of request
#: (closing the uploaded files it streamed to disk) is left to the garbage collector, which
#: then complains about temporary files the upload services already moved into DATA_DIR.
pytestmark = [
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
    # The coverage check reads what the conformance test recorded: one process runs both.
    pytest.mark.xdist_group("api_fuzz"),
]

CALLERS = ("administrator", "nobody")
#: Examples per operation and caller. CI runs the bounded, reproducible default; set
#: VIRTOOL_FUZZ_EXAMPLES (and VIRTOOL_FUZZ_EXPLORE=1 for fresh random examples) to search longer.
MAX_EXAMPLES = int(os.environ.get("VIRTOOL_FUZZ_EXAMPLES", "10"))
EXPLORE = os.environ.get("VIRTOOL_FUZZ_EXPLORE") == "1"

schema = schemathesis.openapi.from_wsgi("/api/schema/", application)
schema.config.generation.update(with_security_parameters=False, allow_extra_parameters=False)
schema.config.phases.update(phases=["examples", "fuzzing"])

#: Path parameters that name real objects, as world ids. Lists are aligned: one variant index
#: picks coherent values for every parameter of a path (an isolate of that OTU, a file of
#: that analysis, the NuVs analysis with its contig index, ...).
_PATH_VALUES = {
    "ref_id": ("ref_id", "public_ref_id", "remote_ref_id"),
    "otu_id": ("otu_id", "otu_id"),
    "isolate_id": ("isolate_id", "other_isolate_id"),
    "sequence_id": ("sequence_id", "other_sequence_id"),
    "change_id": ("change_id", "first_change_id", "built_change_id"),
    "index_id": ("index_id", "build_id"),
    "name": ("index_file",),
    "sample_id": ("sample_id",),
    "analysis_id": ("analysis_id", "nuvs_id", "running_id"),
    "file_id": ("file_id",),
    "sequence_index": ("sequence_index",),
    "upload_id": ("upload_id",),
    "process_id": ("process_id",),
    "key_id": ("key_id",),
    "job_id": ("index_job_id", "analysis_job_id"),
    "group_id": ("group_id",),
    "user_id": ("user_id",),
    # refget and sequence collections: the published set's sequence and collection digests.
    "id": ("refget_md5", "refget_ga4gh"),
    "digest": ("seqcol_digest",),
    "digest1": ("seqcol_digest",),
    "digest2": ("seqcol_digest",),
    "attribute_name": ("seqcol_attribute_names", "seqcol_attribute_lengths", "seqcol_attribute_sequences"),
    "attribute_digest": ("seqcol_names", "seqcol_lengths", "seqcol_sequences"),
}


@pytest.fixture(scope="module")
def github():
    """GitHub's releases API on 127.0.0.1: a release of the world's remote reference; any
    other repository is not found (400)."""
    fake = FakeGitHub()
    fake.publish(REMOTE_SLUG, gz_bytes({"data_type": "genome", "organism": "virus", "otus": []}), release_id=1)
    yield fake
    fake.close()


@pytest.fixture
def fuzz_world(db, wsgi_keeps_test_connection, settings, github):
    settings.GITHUB_API_URL = github.url
    settings.GITHUB_TOKEN = ""
    settings.HTTP_TIMEOUT_SECONDS = 5
    return world_build(remote=True)


@pytest.fixture(params=CALLERS)
def caller(request):
    return request.param


#: Body fields that name other objects: valid requests often name real ones (world ids, or
#: literal usernames and group names).
_BODY_VALUES = {
    "user_id": ["@nobody", "@owner", "@administrator"],
    "group_id": ["@curators"],
    "ref_id": ["ref_id", "public_ref_id"],
    "clone_from": ["ref_id", "public_ref_id"],
    "import_from": ["upload_id"],
    "internal_control": ["otu_id", "public_otu_id"],
}


def _real_body_values(case, world, rng: random.Random) -> None:
    if case.meta is None or not case.meta.generation.mode.is_positive or not isinstance(case.body, dict):
        return
    for name, choices in _BODY_VALUES.items():
        if isinstance(case.body.get(name), str) and rng.random() < 0.6:
            choice = rng.choice(choices)
            case.body[name] = choice[1:] if choice.startswith("@") else world.ids[choice]
    if isinstance(case.body.get("groups"), list) and rng.random() < 0.6:
        case.body["groups"] = ["curators"]


def _real_path_parameters(case, world, rng: random.Random) -> None:
    """Mostly every path parameter names a real object, coherently; else a few do, or none."""
    parameters = case.path_parameters or {}
    variant = rng.randrange(6)
    coherent = rng.random() < 0.75
    for name in list(parameters):
        choices = _PATH_VALUES.get(name)
        if choices and (coherent or rng.random() < 0.3):
            parameters[name] = world.ids[choices[variant % len(choices)]]


#: Rules a JSON schema cannot state (between fields, or about other objects), by operation:
#: a request the schema allows may be refused with 422 for these fields (message prefix, or
#: None for any message). Everything else the views refuse with 422 must be in the schema.
SEMANTIC_422 = {
    # clone_from, import_from and remote_from exclude each other; `..` is refused anywhere in
    # a slug (the pattern can't say so without a lookahead).
    "POST /api/refs": [
        *[(name, "Only one of") for name in ("clone_from", "import_from", "remote_from")],
        ("remote_from", "Must be a GitHub repository"),
    ],
    # modify_kind is the older name of modify_otu: both given, they must agree.
    **{
        f"{method} {path}": [("modify_kind", "Differs from modify_otu")]
        for method, path in (
            ("POST", "/api/refs/{ref_id}/users"),
            ("PATCH", "/api/refs/{ref_id}/users/{user_id}"),
            ("POST", "/api/refs/{ref_id}/groups"),
            ("PATCH", "/api/refs/{ref_id}/groups/{group_id}"),
        )
    },
    # Segment names are unique within a schema.
    "POST /api/refs/{ref_id}/otus": [("schema", "Segment names must be unique")],
    "PATCH /api/otus/{otu_id}": [("schema", "Segment names must be unique")],
    # Groups named must exist.
    "PATCH /api/users/{user_id}": [("groups", "Group does not exist")],
    # Results in the shape of the analysis's own workflow (the schema: one of the shapes).
    "PATCH /api/analyses/{analysis_id}": [("results", None)],
}


def _error_messages(errors) -> list[str]:
    if isinstance(errors, str):
        return [errors]
    if isinstance(errors, dict):
        return [message for value in errors.values() for message in _error_messages(value)]
    if isinstance(errors, list):
        return [message for value in errors for message in _error_messages(value)]
    return []


def _semantic_refusal(case, body: dict) -> bool:
    rules = SEMANTIC_422.get(f"{case.method} {case.path}", [])
    errors = body.get("errors")
    if not rules or not isinstance(errors, dict) or not errors:
        return False
    for field_name, field_errors in errors.items():
        prefixes = [prefix for name, prefix in rules if name == field_name]
        if not prefixes:
            return False
        if None not in prefixes and not all(
            any(message.startswith(prefix) for prefix in prefixes) for message in _error_messages(field_errors)
        ):
            return False
    return True


def _only_nul_refused(body: dict) -> bool:
    """Text never holds NUL characters (PostgreSQL can't store them): DRF refuses them in every
    text field with this message, which the schemas do not repeat for each field."""
    messages = _error_messages(body.get("errors"))
    return bool(messages) and all(message == "Null characters are not allowed." for message in messages)


def valid_data_is_accepted(ctx, response, case):
    """Schemathesis' `positive_data_acceptance`, with the spec's own refusals of valid data:
    400 for the spec's domain rules ("Segment does not exist", "There are unverified OTUs",
    ...), and 422 only for the rules in SEMANTIC_422 and for NUL characters in text."""
    if case.meta is None or not case.meta.generation.mode.is_positive:
        return None
    status = response.status_code
    if status < 400 or status in (401, 403, 404, 409, 429):
        return None
    # refget's own refusals of schema-valid coordinates: outside the sequence (416), or start
    # after end, a circular request this server does not support (501).
    if status in (416, 501) and case.path.startswith("/refget/"):
        return None
    body = response.json() if status in (400, 422) else {}
    if status == 400 and body.get("message") != "Malformed request body":
        return None
    if status == 422 and (_semantic_refusal(case, body) or _only_nul_refused(body)):
        return None
    raise AssertionError(f"Schema-valid request refused with {status}: {response.text[:500]}")


_DRF_TRUE = {"t", "T", "y", "Y", "true", "True", "TRUE", "1", "yes", "Yes", "YES", "on", "On", "ON", 1, 1.0, True}
_DRF_FALSE = {"f", "F", "n", "N", "false", "False", "FALSE", "0", "no", "No", "NO", "off", "Off", "OFF", 0, 0.0, False}


def _drf_reads_as(schema_type, value) -> bool:
    """Whether DRF's field for `schema_type` takes `value` as a valid value of that type: text
    fields take numbers, booleans take 1/0 and "true"/"false", numbers take numeric text."""
    if isinstance(value, (dict, list)) or value is None:
        return False
    if schema_type == "string":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if schema_type == "boolean":
        return value in _DRF_TRUE or value in _DRF_FALSE
    if schema_type in ("integer", "number") and not isinstance(value, bool):
        try:
            number = float(value)
        except ValueError:
            return False
        return schema_type == "number" or number.is_integer()
    return False


def _value_at(document, path):
    for step in path:
        try:
            document = document[step]
        except (KeyError, IndexError, TypeError):
            return None
    return document


def _drf_tolerates(mutation, case) -> bool:
    """Whether what DRF reads from the mutated body value is valid after all: a scalar it
    coerces to the documented type, or text too long only by the whitespace it trims."""
    if mutation.parameter_location.value != "body":
        return False
    value = _value_at(case.body, mutation.path)
    if mutation.operator.value == "change_type":
        return _drf_reads_as(mutation.original_value, value)
    return set(mutation.keywords) == {"maxLength"} and isinstance(value, str) and value != value.strip()


def invalid_data_is_refused(ctx, response, case):
    """Schemathesis' `negative_data_rejection`, except where DRF documents leniency: the scalar
    coercions (a number for a text field, "true" for a boolean, "3" for an integer) and the
    trimming of text fields before their length is checked."""
    meta = case.meta
    data = getattr(getattr(meta, "phase", None), "data", None)
    mutations = getattr(data, "mutations", None) or []
    if (
        meta is not None
        and meta.generation.mode.is_negative
        and mutations
        and all(_drf_tolerates(mutation, case) for mutation in mutations)
    ):
        return None
    return negative_data_rejection(ctx, response, case)


#: (operation, caller) -> statuses seen; the run must reach more than errors.
STATUSES: dict[tuple[str, str], list[int]] = collections.defaultdict(list)


@pytest.mark.django_db
@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=not EXPLORE,
    database=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)
def test_api_conforms_to_its_schema(case, caller, fuzz_world):
    rng = random.Random(repr((case.path_parameters, case.query, caller)))
    _real_path_parameters(case, fuzz_world, rng)
    _real_body_values(case, fuzz_world, rng)
    headers = {"Authorization": fuzz_world.authorization(caller)}
    with transaction.atomic():
        try:
            response = case.call_and_validate(
                headers=headers,
                excluded_checks=[positive_data_acceptance, negative_data_rejection],
                additional_checks=[valid_data_is_accepted, invalid_data_is_refused],
            )
        finally:
            transaction.set_rollback(True)
    STATUSES[(f"{case.method} {case.path}", caller)].append(response.status_code)


def test_the_run_reached_successful_responses():
    """Path ids are real objects often enough that every read succeeds for an administrator."""
    if not STATUSES:
        pytest.skip("run with the conformance test")
    for (operation, caller), statuses in sorted(STATUSES.items()):
        print(operation, caller, sorted(collections.Counter(statuses).items()))
    administrator_reads = {
        operation: statuses
        for (operation, caller), statuses in STATUSES.items()
        if caller == "administrator" and operation.startswith("GET ")
    }
    missing = sorted(
        operation
        for operation, statuses in administrator_reads.items()
        if not any(200 <= status < 300 for status in statuses)
    )
    assert not missing, missing
