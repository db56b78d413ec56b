"""The result shapes a workflow runner reports through the Job API, and their validation.

Pathoscope: `{read_count, subtracted_count, hits: [{id, otu {id, version}, final {pi, best,
high, low, reads}, initial {...}, align, coverage, depth}]}` where `id` is the reference
sequence id, `align` the per-position depth list (or null), `coverage` a fraction 0-1 and
`depth` the mean or median depth.

NuVs: `{hits: [{index, sequence, orfs: [{index, pro, frame, strand, pos, hits: [...]}]}]}`;
`index` identifies a contig (it is what `PUT /api/analyses/{id}/{sequence_index}/blast` names).
"""

import math

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from analyses.models import Workflow
from virtool_site.api.inputs import RequestSerializer
from virtool_site.errors import InvalidInput


#: The largest number a result may hold: exact as a float, so exports and documents sum,
#: average and write it (an int past a float's range would fail them after it was stored).
NUMBER_MAX = 2**53


@extend_schema_field(OpenApiTypes.NUMBER)
class NumberField(serializers.Field):
    """An int or a float, kept as given (JSON numbers round-trip unchanged); never a bool;
    at most NUMBER_MAX unless told otherwise."""

    default_error_messages = {
        "invalid": "A number is required.",
        "min_value": "Ensure this value is greater than or equal to {min_value}.",
        "max_value": "Ensure this value is less than or equal to {max_value}.",
    }

    def __init__(self, *, min_value=None, max_value=NUMBER_MAX, **kwargs):
        self.min_value, self.max_value = min_value, max_value
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, (int, float)) or (isinstance(data, float) and not math.isfinite(data)):
            self.fail("invalid")
        if self.min_value is not None and data < self.min_value:
            self.fail("min_value", min_value=self.min_value)
        if self.max_value is not None and data > self.max_value:
            self.fail("max_value", max_value=self.max_value)
        return data

    def to_representation(self, value):
        return value


class OtuVersionSerializer(RequestSerializer):
    id = serializers.CharField(max_length=64)
    version = serializers.IntegerField(min_value=0)


class PathoscopeScoresSerializer(RequestSerializer):
    pi = NumberField(min_value=0)
    best = NumberField(min_value=0)
    high = NumberField(min_value=0)
    low = NumberField(min_value=0)
    reads = NumberField(min_value=0)


class PathoscopeHitSerializer(RequestSerializer):
    id = serializers.CharField(max_length=64, help_text="Reference sequence id")
    otu = OtuVersionSerializer()
    final = PathoscopeScoresSerializer()
    initial = PathoscopeScoresSerializer()
    align = serializers.ListField(child=NumberField(min_value=0), allow_null=True, required=False, default=None)
    coverage = NumberField(min_value=0, max_value=1)
    depth = NumberField(min_value=0)


class PathoscopeResultsSerializer(RequestSerializer):
    read_count = serializers.IntegerField(min_value=0)
    subtracted_count = serializers.IntegerField(min_value=0)
    hits = PathoscopeHitSerializer(many=True)


class NuvsOrfSerializer(RequestSerializer):
    index = serializers.IntegerField(min_value=0)
    pro = serializers.CharField(allow_blank=True, trim_whitespace=False)
    frame = serializers.IntegerField()
    strand = serializers.ChoiceField(choices=[1, -1])
    pos = serializers.ListField(child=serializers.IntegerField(min_value=0), min_length=2, max_length=2)
    hits = serializers.ListField(child=serializers.DictField(), default=list)


#: The largest contig index: the index is kept in a BLAST's row (a PostgreSQL integer).
NUVS_INDEX_MAX = 2**31 - 1


class NuvsHitSerializer(RequestSerializer):
    index = serializers.IntegerField(min_value=0, max_value=NUVS_INDEX_MAX)
    sequence = serializers.RegexField(
        r"^[ACGTUNRYKMSWBDHVacgtunrykmswbdhv]+$", error_messages={"invalid": "Must be a nucleotide sequence."}
    )
    orfs = NuvsOrfSerializer(many=True)


class NuvsResultsSerializer(RequestSerializer):
    hits = NuvsHitSerializer(many=True)

    def validate_hits(self, hits):
        indexes = [hit["index"] for hit in hits]
        if len(set(indexes)) != len(indexes):
            raise serializers.ValidationError("Sequence indexes must be unique.")
        return hits


RESULT_SERIALIZERS = {
    Workflow.PATHOSCOPE_BOWTIE: PathoscopeResultsSerializer,
    Workflow.NUVS: NuvsResultsSerializer,
}


def _plain(value):
    """Serializer output (OrderedDicts, ReturnLists) as plain JSON-ready values."""
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


def results_validate(*, workflow: str, results) -> dict:
    """The results in the workflow's shape, or 422 "Invalid input" with the field errors."""
    serializer = RESULT_SERIALIZERS[workflow](data=results)
    if not serializer.is_valid():
        raise InvalidInput(errors={"results": serializer.errors})
    return _plain(serializer.validated_data)
