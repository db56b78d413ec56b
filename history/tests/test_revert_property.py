"""Property: for any sequence of edits, reverting any unbuilt change restores the OTU exactly
as it was before that change (and reverting its creation removes it)."""

import string

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from history.models import Change
from history.revert import change_revert
from indexes.models import Index
from refs import services
from refs.documents import otu_document_load, otu_issues
from refs.models import OTU, Isolate, Sequence
from virtool_site.errors import ApplicationError, Conflict

pytestmark = pytest.mark.django_db

SEGMENTS = ["DNA-R", "DNA-S", "DNA-M"]

words = st.text(alphabet=string.ascii_letters + string.digits, min_size=1, max_size=8)
source_types = st.sampled_from(["isolate", "strain", "clone", "unknown", ""])
nucleotides = st.text(alphabet="ACGTNRY", min_size=1, max_size=20)
index = st.integers(min_value=0, max_value=5)
segment = st.one_of(st.none(), st.sampled_from(SEGMENTS))
schema = st.lists(st.sampled_from(SEGMENTS), unique=True, max_size=3).map(
    lambda names: [{"name": n, "molecule": "ssDNA", "required": True} for n in names]
)

operations = st.one_of(
    st.tuples(st.just("edit"), st.none() | words, st.none() | st.just("") | words, st.none() | schema),
    st.tuples(st.just("add_isolate"), source_types, st.just("") | words, st.booleans()),
    st.tuples(st.just("edit_isolate"), index, st.none() | source_types, st.none() | words),
    st.tuples(st.just("remove_isolate"), index),
    st.tuples(st.just("set_default"), index),
    st.tuples(st.just("create_sequence"), index, words, nucleotides, segment),
    st.tuples(st.just("edit_sequence"), index, index, st.none() | words, st.none() | nucleotides, st.none() | words),
    st.tuples(st.just("remove_sequence"), index, index),
)


def _isolate(otu_id, position):
    isolates = list(Isolate.objects.filter(otu_id=otu_id).order_by("position"))
    return isolates[position % len(isolates)] if isolates else None


def _sequence(isolate, position):
    sequences = list(Sequence.objects.filter(isolate=isolate).order_by("position"))
    return sequences[position % len(sequences)] if sequences else None


def apply(operation, *, user, otu_id) -> None:
    """Apply one edit through the services; inapplicable edits do nothing."""
    kind, *args = operation
    if kind == "edit":
        name, abbreviation, new_schema = args
        services.otu_edit(user=user, otu_id=otu_id, name=name, abbreviation=abbreviation, schema=new_schema)
    elif kind == "add_isolate":
        source_type, source_name, default = args
        services.isolate_add(user=user, otu_id=otu_id, source_type=source_type, source_name=source_name, default=default)
    elif kind in ("edit_isolate", "remove_isolate", "set_default"):
        isolate = _isolate(otu_id, args[0])
        if isolate is None:
            return
        if kind == "edit_isolate":
            services.isolate_edit(
                user=user, otu_id=otu_id, isolate_id=isolate.isolate_id, source_type=args[1], source_name=args[2]
            )
        elif kind == "remove_isolate":
            services.isolate_remove(user=user, otu_id=otu_id, isolate_id=isolate.isolate_id)
        else:
            services.isolate_set_default(user=user, otu_id=otu_id, isolate_id=isolate.isolate_id)
    elif kind == "create_sequence":
        isolate = _isolate(otu_id, args[0])
        if isolate is None:
            return
        services.sequence_create(
            user=user,
            otu_id=otu_id,
            isolate_id=isolate.isolate_id,
            accession=args[1],
            definition="a sequence",
            sequence=args[2],
            segment=args[3],
        )
    else:
        isolate = _isolate(otu_id, args[0])
        sequence = isolate and _sequence(isolate, args[1])
        if sequence is None:
            return
        if kind == "remove_sequence":
            services.sequence_remove(user=user, otu_id=otu_id, isolate_id=isolate.isolate_id, sequence_id=sequence.id)
        else:
            changes = {k: v for k, v in zip(("accession", "sequence", "host"), args[2:]) if v is not None}
            services.sequence_edit(
                user=user, otu_id=otu_id, isolate_id=isolate.isolate_id, sequence_id=sequence.id, **changes
            )


def run_edits(operations, *, user, reference, remove_at_end: bool) -> tuple[str, dict]:
    """Create an OTU, apply the edits; returns the OTU id and each change's document before it."""
    otu = services.otu_create(user=user, reference=reference, name="Property virus", abbreviation="PV")
    before = {f"{otu.id}.0": None}
    for operation in operations:
        document = otu_document_load(otu.id)
        try:
            apply(operation, user=user, otu_id=otu.id)
        except ApplicationError:
            continue  # e.g. a segment not in the schema: refused, nothing recorded
        version = OTU.objects.get(id=otu.id).version
        if version != document["version"]:
            assert version == document["version"] + 1
            before[f"{otu.id}.{version}"] = document
    if remove_at_end:
        document = otu_document_load(otu.id)
        services.otu_remove(user=user, otu_id=otu.id)
        before[f"{otu.id}.removed"] = document
    return otu.id, before


PROPERTY_SETTINGS = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@PROPERTY_SETTINGS
@given(operations=st.lists(operations, min_size=1, max_size=12), remove_at_end=st.booleans(), data=st.data())
def test_reverting_any_unbuilt_change_restores_the_otu_exactly(owner, reference, operations, remove_at_end, data):
    with transaction.atomic():
        otu_id, before = run_edits(operations, user=owner, reference=reference, remove_at_end=remove_at_end)
        change_ids = list(before)
        assert sorted(Change.objects.filter(otu_id=otu_id).values_list("id", flat=True)) == sorted(change_ids)

        # Some leading changes may already be in an index build; those cannot be reverted.
        built = data.draw(st.integers(min_value=0, max_value=len(change_ids) - 1), label="built")
        if built:
            index = Index.objects.create(reference=reference, version=0, ready=True, user=owner)
            Change.objects.filter(id__in=change_ids[:built]).update(index=index)
            with pytest.raises(Conflict):
                change_revert(user=owner, change_id=change_ids[built - 1])

        position = data.draw(st.integers(min_value=built, max_value=len(change_ids) - 1), label="reverted")
        target = change_ids[position]
        change_revert(user=owner, change_id=target)

        expected = before[target]
        if expected is None:
            assert not OTU.objects.filter(id=otu_id).exists()
            assert not Isolate.objects.filter(otu_id=otu_id).exists()
        else:
            restored = otu_document_load(otu_id)
            assert restored == expected
            assert restored["verified"] == (otu_issues(restored) is None)
            assert Isolate.objects.filter(otu_id=otu_id, default=True).count() == (1 if restored["isolates"] else 0)
        assert sorted(Change.objects.filter(otu_id=otu_id).values_list("id", flat=True)) == sorted(change_ids[:position])

        # History carries on from the restored version.
        if expected is not None:
            services.otu_edit(user=owner, otu_id=otu_id, name="Carried on")
            assert Change.objects.filter(id=f"{otu_id}.{expected['version'] + 1}").exists()
        transaction.set_rollback(True)


@PROPERTY_SETTINGS
@given(operations=st.lists(operations, min_size=1, max_size=12))
def test_versions_rise_by_one_with_one_change_per_version(owner, reference, operations):
    with transaction.atomic():
        otu_id, before = run_edits(operations, user=owner, reference=reference, remove_at_end=False)
        version = OTU.objects.get(id=otu_id).version
        versions = sorted(Change.objects.filter(otu_id=otu_id).values_list("otu_version", flat=True))
        assert versions == list(range(version + 1))
        transaction.set_rollback(True)
