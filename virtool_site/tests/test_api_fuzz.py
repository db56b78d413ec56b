"""Contract fuzzing: schemathesis against the service's own OpenAPI document (/api/schema/).

Every operation of the document is called through the Django WSGI app with generated valid
(positive) and invalid (negative) parameters and bodies, and every response goes through
schemathesis' checks: no server error, only documented status codes and content types, bodies
that conform to the documented schemas, invalid data refused (`negative_data_rejection`, as
is: request bodies are read strictly, see virtool_site.api.inputs) and valid data not refused
for a reason the document does not give.

Reaching the success paths. The run only means something if operations get past 404 and 429:

- data: one world of real objects (`api_world`, plus what some operations need to succeed:
  a reference that can be built, an index whose files are all uploaded, a user and a group
  that are not yet members), built once for the module and rolled back after it; each example
  runs in a savepoint that is rolled back, so a DELETE does not take the objects away from the
  next example;
- ids: path parameters, and body fields that name other objects, are mostly replaced with
  the world's ids, coherently (an isolate of that OTU, a file of that analysis, ...), per
  operation where one needs a particular object (`_OPERATION_PATHS`);
- callers: each example is sent by an administrator, the owner of everything, a user without
  any right, or the job runner an operation of the Job API serves (`_OPERATION_CALLERS`);
- rate limits are raised for the run (they are tested in test_throttling.py).

`test_the_run_reached_every_success_path` prints how often each operation answered 2xx, 4xx
(and by whom), and fails for an operation that never succeeded, unless `NO_SUCCESS` gives
the reason.

Valid data may be refused with 400 (the spec's domain rules: "Segment does not exist", ...) and
with 422 for the rules in SEMANTIC_422 (between fields, or about other objects); any other 422
to schema-valid data means the schema is missing a constraint.

Bounded and reproducible: a fixed number of examples per operation, derandomized, no
shrinking. Set VIRTOOL_FUZZ_EXAMPLES (and VIRTOOL_FUZZ_EXPLORE=1 for fresh random examples)
to search longer.
"""

import collections
import gzip
import os
import random

import pytest
import schemathesis
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.test import override_settings
from hypothesis import HealthCheck, Phase, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from refs.tests.transfer_factories import FakeGitHub, gz_bytes
from virtool_site.tests.api_world import MISSING_INDEX_FILE, REMOTE_SLUG, basic, world_build
from virtool_site.wsgi import application

#: schemathesis' WSGI transport reads a response without closing it, so Django's end of request
#: (closing the uploaded files it streamed to disk) is left to the garbage collector, which
#: then complains about temporary files the upload services already moved into DATA_DIR.
pytestmark = [
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
    # The coverage check reads what the conformance test recorded: one process runs both.
    pytest.mark.xdist_group("api_fuzz"),
]

#: Examples per operation. CI runs the bounded, reproducible default; set VIRTOOL_FUZZ_EXAMPLES
#: (and VIRTOOL_FUZZ_EXPLORE=1 for fresh random examples) to search longer.
MAX_EXAMPLES = int(os.environ.get("VIRTOOL_FUZZ_EXAMPLES", "12"))
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
    "file_id": ("file_id", "nuvs_file_id", "running_file_id"),
    "sequence_index": ("sequence_index",),
    "upload_id": ("upload_id",),
    "process_id": ("process_id",),
    "key_id": ("key_id",),
    "job_id": ("index_job_id", "analysis_job_id"),
    "group_id": ("group_id",),
    "user_id": ("user_id",),
    "version": ("otu_version",),
    # refget and sequence collections: the published set's sequence and collection digests.
    "id": ("refget_md5", "refget_ga4gh"),
    "digest": ("seqcol_digest",),
    "digest1": ("seqcol_digest",),
    "digest2": ("seqcol_digest",),
    "attribute_name": ("seqcol_attribute_names", "seqcol_attribute_lengths", "seqcol_attribute_sequences"),
    "attribute_digest": ("seqcol_names", "seqcol_lengths", "seqcol_sequences"),
}

#: Operations whose success needs particular objects: their path parameters name these.
_OPERATION_PATHS = {
    # A reference with unbuilt changes, verified OTUs and no build under way.
    "POST /api/refs/{ref_id}/indexes": {"ref_id": ("buildable_ref_id",)},
    # An external build whose runner uploaded every file: it can be finalized...
    "PATCH /api/indexes/{index_id}": {"index_id": ("finalizable_index_id",)},
    # ...and the build still missing a file (its runner is the `index_job` caller).
    "POST /api/indexes/{index_id}/files": {"index_id": ("build_id",)},
    # The running analysis takes results and files from its runner.
    "PATCH /api/analyses/{analysis_id}": {"analysis_id": ("running_id",)},
    "POST /api/analyses/{analysis_id}/files": {"analysis_id": ("running_id", "analysis_id")},
    # Members of the private reference: the `curators` group and the `member` user.
    "PATCH /api/refs/{ref_id}/groups/{group_id}": {"ref_id": ("ref_id",)},
    "DELETE /api/refs/{ref_id}/groups/{group_id}": {"ref_id": ("ref_id",)},
    "PATCH /api/refs/{ref_id}/users/{user_id}": {"ref_id": ("ref_id",), "user_id": ("member_id",)},
    "DELETE /api/refs/{ref_id}/users/{user_id}": {"ref_id": ("ref_id",), "user_id": ("member_id",)},
    # The remote reference has a release to install.
    "POST /api/refs/{ref_id}/updates": {"ref_id": ("remote_ref_id",)},
    "GET /api/refs/{ref_id}/release": {"ref_id": ("remote_ref_id",)},
}

#: Who sends each example (chosen per example, repeated names weigh more): mostly who may, an
#: administrator or the owner of everything, else a user without any right; administrators'
#: operations by an administrator; the Job API's operations also by the runner they serve.
CALLERS = ("administrator", "administrator", "owner", "owner", "nobody")
ADMINISTRATOR_CALLERS = ("administrator", "administrator", "administrator", "owner", "nobody")
_OPERATION_CALLERS = {
    "PATCH /api/indexes/{index_id}": ("administrator", "administrator", "finalize_job", "index_job", "nobody"),
    "POST /api/indexes/{index_id}/files": ("index_job", "administrator"),
    "PATCH /api/analyses/{analysis_id}": ("analysis_job", "administrator", "nobody"),
    "POST /api/analyses/{analysis_id}/files": ("analysis_job", "owner", "nobody"),
}

#: Operations that never answer 2xx to generated requests, and why.
NO_SUCCESS: dict[str, str] = {}


@pytest.fixture(scope="module")
def github():
    """GitHub's releases API on 127.0.0.1: a release of the world's remote reference; any
    other repository is not found (400)."""
    fake = FakeGitHub()
    fake.publish(REMOTE_SLUG, gz_bytes({"data_type": "genome", "organism": "virus", "otus": []}), release_id=1)
    yield fake
    fake.close()


def _world_extend(world) -> None:
    """What some operations need to succeed, besides `api_world`'s objects."""
    from analyses import services as analyses_services
    from analyses.models import Sample, Workflow
    from indexes import services as index_services
    from indexes.selectors import REQUIRED_INDEX_FILES
    from refs import services as refs_services
    from refs.models import Reference
    from virtool_site.tests.factories import GroupFactory, UserFactory

    owner = world.users["owner"]
    # A reference that can be built: one verified OTU, unbuilt, no build under way.
    buildable = refs_services.reference_create(user=owner, name="Buildable viruses")
    otu = refs_services.otu_create(user=owner, reference=buildable, name="Cucumber mosaic virus", abbreviation="CMV")
    isolate = refs_services.isolate_add(user=owner, otu_id=otu.id, source_type="isolate", source_name="Fny")
    refs_services.sequence_create(
        user=owner, otu_id=otu.id, isolate_id=isolate.isolate_id, accession="NC_002034",
        definition="Cucumber mosaic virus RNA 1", host="Cucumber", sequence="ATGCATGCAAGTATGCATGC",
    )
    # A reference whose external build has every file: it can be finalized.
    finalizable = refs_services.reference_create(user=owner, name="Finalizable viruses")
    otu = refs_services.otu_create(user=owner, reference=finalizable, name="Potato virus Y", abbreviation="PVY")
    isolate = refs_services.isolate_add(user=owner, otu_id=otu.id, source_type="isolate", source_name="N")
    refs_services.sequence_create(
        user=owner, otu_id=otu.id, isolate_id=isolate.isolate_id, accession="NC_001616",
        definition="Potato virus Y", host="Potato", sequence="ATGCATGCAAGTATGCATGC",
    )
    index, index_key = index_services.index_create(
        user=owner, reference_id=finalizable.id, runner=index_services.RUNNER_EXTERNAL
    )
    world.keys["finalize_job"] = basic(f"job-{index.job_id}", index_key)
    for name in REQUIRED_INDEX_FILES:
        content = gzip.compress(b"{}") if name.endswith(".gz") else b"bowtie2"
        index_services.index_file_upload(
            user=world.users["administrator"], index_id=index.id, name=name,
            uploaded_file=SimpleUploadedFile(name, content, content_type="application/octet-stream"),
        )
    # A running NuVs analysis: its runner reports results of the NuVs shape.
    nuvs, nuvs_key = analyses_services.analysis_create(
        user=owner, sample=Sample.objects.get(id=world.ids["sample_id"]), ref_id=world.ids["ref_id"],
        workflow=Workflow.NUVS,
    )
    world.keys["nuvs_job"] = basic(f"job-{nuvs.job_id}", nuvs_key)
    # A member of the private reference, and a user and a group that are not members yet.
    reference = Reference.objects.get(id=world.ids["ref_id"])
    UserFactory(username="member")
    refs_services.reference_user_add(user=owner, reference=reference, user_id="member", rights={"build": True})
    UserFactory(username="outsider")
    GroupFactory(name="outsiders")
    world.ids |= {
        "buildable_ref_id": buildable.id,
        "finalizable_index_id": index.id,
        "running_nuvs_id": nuvs.id,
        "member_id": "member",
        "otu_version": int(world.ids["change_id"].rsplit(".", 1)[1]),
    }


@pytest.fixture(scope="module")
def fuzz_world(django_db_setup, django_db_blocker, tmp_path_factory, github):
    """The world, built once and rolled back after the module."""
    data = tmp_path_factory.mktemp("fuzz-data")
    overrides = override_settings(DATA_DIR=data, GITHUB_API_URL=github.url, GITHUB_TOKEN="", HTTP_TIMEOUT_SECONDS=5)
    with django_db_blocker.unblock(), overrides, transaction.atomic():
        world = world_build(remote=True)
        _world_extend(world)
        world.data_dir = data
        yield world
        transaction.set_rollback(True)


@pytest.fixture(autouse=True)
def data_dir(settings, fuzz_world, github):
    """The world's files are where it wrote them (instead of a fresh directory per test), and
    the rate limits are out of the way."""
    settings.DATA_DIR = fuzz_world.data_dir
    settings.GITHUB_API_URL = github.url
    settings.GITHUB_TOKEN = ""
    settings.HTTP_TIMEOUT_SECONDS = 5
    settings.THROTTLE_RATES = {**settings.THROTTLE_RATES, "write": "1000000/minute", "search": "1000000/minute"}
    return fuzz_world.data_dir


#: Body fields that name other objects: valid requests often name real ones (world ids, or
#: literal usernames and group names).
_BODY_VALUES = {
    "user_id": ["@outsider", "@nobody", "@administrator"],
    "group_id": ["@outsiders"],
    "ref_id": ["ref_id", "ref_id", "public_ref_id"],
    "clone_from": ["ref_id", "public_ref_id"],
    "import_from": ["upload_id"],
    "internal_control": ["otu_id", "public_otu_id"],
}


def _real_body_values(case, world, rng: random.Random) -> None:
    if case.meta is None or not case.meta.generation.mode.is_positive or not isinstance(case.body, dict):
        return
    for name, choices in _BODY_VALUES.items():
        if isinstance(case.body.get(name), str) and rng.random() < 0.7:
            choice = rng.choice(choices)
            case.body[name] = choice[1:] if choice.startswith("@") else world.ids[choice]
    if isinstance(case.body.get("groups"), list) and rng.random() < 0.6:
        case.body["groups"] = ["curators"]
    if isinstance(case.body.get("subtractions"), list) and rng.random() < 0.7:
        case.body["subtractions"] = []


def _callers(operation: str) -> tuple[str, ...]:
    if operation in _OPERATION_CALLERS:
        return _OPERATION_CALLERS[operation]
    path = operation.split(" ", 1)[1]
    return ADMINISTRATOR_CALLERS if path.startswith(("/api/users", "/api/groups")) else CALLERS


def _real_path_parameters(case, world, rng: random.Random) -> None:
    """Mostly every path parameter names a real object, coherently; else a few do, or none."""
    parameters = case.path_parameters or {}
    overrides = _OPERATION_PATHS.get(f"{case.method} {case.path}", {})
    variant = rng.randrange(6)
    coherent = rng.random() < 0.85
    for name in list(parameters):
        choices = overrides.get(name) or _PATH_VALUES.get(name)
        if choices and (coherent or rng.random() < 0.3):
            parameters[name] = world.ids[choices[variant % len(choices)]]


def _analysis_file_steer(case, world) -> None:
    """Valid data for an analysis file goes to the running analysis, named with a format it
    knows: a generated name rarely ends in one, and Hypothesis draws strings from constants in
    the project's source too, so which names come out changes with any code (invalid data still
    sends odd names, and callers without the right still try)."""
    if f"{case.method} {case.path}" != "POST /api/analyses/{analysis_id}/files":
        return
    if case.meta is None or not case.meta.generation.mode.is_positive or not isinstance(case.query, dict):
        return
    case.path_parameters["analysis_id"] = world.ids["running_id"]
    case.query["name"] = "mapped.sam"
    case.query.pop("format", None)


def _results_steer(case, world) -> str | None:
    """Results go to a running analysis of their shape (Pathoscope's have a read count), sent by
    its runner; the caller, or None."""
    if f"{case.method} {case.path}" != "PATCH /api/analyses/{analysis_id}" or not isinstance(case.body, dict):
        return None
    results = case.body.get("results")
    if not isinstance(results, dict) or case.meta is None or not case.meta.generation.mode.is_positive:
        return None
    pathoscope = "read_count" in results
    case.path_parameters["analysis_id"] = world.ids["running_id" if pathoscope else "running_nuvs_id"]
    return "analysis_job" if pathoscope else "nuvs_job"


def _real_query(case, rng: random.Random) -> None:
    """The index file a runner has still to upload, often; a whole refget sequence, often (a
    generated range is mostly past the end of a short sequence)."""
    if case.meta is None or not case.meta.generation.mode.is_positive or rng.random() < 0.4:
        return
    operation = f"{case.method} {case.path}"
    if operation == "POST /api/indexes/{index_id}/files" and isinstance(case.query, dict):
        case.query["name"] = MISSING_INDEX_FILE
    elif operation == "GET /refget/sequence/{id}":
        case.query = {}
        for name in list(case.headers or {}):
            if name.lower() == "range":
                del case.headers[name]


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


def valid_data_is_accepted(ctx, response, case):
    """Schemathesis' `positive_data_acceptance`, with the spec's own refusals of valid data:
    400 for the spec's domain rules ("Segment does not exist", "There are unverified OTUs",
    ...), and 422 only for the rules in SEMANTIC_422."""
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
    if status == 400 and not body.get("message", "").startswith("Malformed request body"):
        return None
    if status == 422 and _semantic_refusal(case, body):
        return None
    raise AssertionError(f"Schema-valid request refused with {status}: {response.text[:500]}")


#: operation -> caller -> statuses seen; the run must reach every success path.
STATUSES: dict[str, dict[str, list[int]]] = collections.defaultdict(lambda: collections.defaultdict(list))
#: operation -> examples of valid (positive) and invalid (negative) data.
MODES: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)


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
def test_api_conforms_to_its_schema(case, fuzz_world, wsgi_keeps_test_connection):
    operation = f"{case.method} {case.path}"
    # Seeded by the operation and the example's rank: the same choices on every run.
    rng = random.Random(f"{operation} {sum(map(len, STATUSES[operation].values()))}")
    caller = rng.choice(_callers(operation))
    _real_path_parameters(case, fuzz_world, rng)
    _real_body_values(case, fuzz_world, rng)
    _real_query(case, rng)
    _analysis_file_steer(case, fuzz_world)
    if rng.random() < 0.8:
        caller = _results_steer(case, fuzz_world) or caller
    headers = {"Authorization": fuzz_world.authorization(caller)}
    with transaction.atomic():
        try:
            response = case.call_and_validate(
                headers=headers,
                excluded_checks=[positive_data_acceptance],
                additional_checks=[valid_data_is_accepted],
            )
        finally:
            transaction.set_rollback(True)
    STATUSES[operation][caller].append(response.status_code)
    MODES[operation]["valid" if case.meta is None or case.meta.generation.mode.is_positive else "invalid"] += 1


def _summary() -> list[str]:
    lines = [f"{'operation':<74} {'2xx':>3} {'4xx':>3} {'+':>3} {'-':>3}  by caller (status:count)"]
    totals = collections.Counter()
    for operation in sorted(STATUSES):
        by_caller = STATUSES[operation]
        statuses = [status for seen in by_caller.values() for status in seen]
        success = sum(200 <= status < 300 for status in statuses)
        refused = sum(400 <= status < 500 for status in statuses)
        valid, invalid = MODES[operation]["valid"], MODES[operation]["invalid"]
        totals.update({"2xx": success, "4xx": refused, "valid": valid, "invalid": invalid, "reached": success > 0})
        callers = "; ".join(
            f"{caller} " + ",".join(f"{status}:{count}" for status, count in sorted(collections.Counter(seen).items()))
            for caller, seen in sorted(by_caller.items())
        )
        lines.append(f"{operation:<74} {success:>3} {refused:>3} {valid:>3} {invalid:>3}  {callers}")
    lines.append(
        f"{len(STATUSES)} operations, {totals['reached']} reached 2xx; {totals['2xx']} answers 2xx, "
        f"{totals['4xx']} 4xx; {totals['valid']} examples of valid data (+), {totals['invalid']} of invalid (-)"
    )
    return lines


def test_the_run_reached_every_success_path(capsys):
    """Every operation answered 2xx at least once (or `NO_SUCCESS` says why it cannot)."""
    if not STATUSES:
        pytest.skip("run with the conformance test")
    with capsys.disabled():
        print("\n" + "\n".join(_summary()))
    operations = {f"{op.method.upper()} {op.path}" for op in (result.ok() for result in schema.get_all_operations())}
    assert set(STATUSES) == operations, "every operation was called"
    missing = sorted(
        operation
        for operation, by_caller in STATUSES.items()
        if operation not in NO_SUCCESS and not any(200 <= s < 300 for seen in by_caller.values() for s in seen)
    )
    assert not missing, missing
