from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from indexes.models import IndexFile
from indexes.services import RUNNER_CELERY, RUNNERS
from virtool_site.api.fields import IdRefField, UserRefField
from virtool_site.api.inputs import RequestSerializer


def download_url(index_id: str, name: str) -> str:
    return f"/api/indexes/{index_id}/files/{name}"


class IndexListSerializer(serializers.Serializer):
    """An index as lists show it (spec/refs.md, Find Indexes)."""

    id = serializers.CharField()
    version = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    ready = serializers.BooleanField()
    has_files = serializers.BooleanField()
    job = IdRefField(source="job_id", allow_null=True)
    ref = IdRefField(source="reference_id")
    reference = IdRefField(source="reference_id")
    user = UserRefField(allow_null=True)
    change_count = serializers.IntegerField()
    modified_otu_count = serializers.IntegerField()
    modified_kind_count = serializers.IntegerField(source="modified_otu_count", help_text="Older name of modified_otu_count.")


class IndexReferenceSerializer(serializers.Serializer):
    id = serializers.CharField()
    name = serializers.CharField()
    data_type = serializers.CharField()


class ContributorSerializer(serializers.Serializer):
    id = serializers.CharField()
    count = serializers.IntegerField()


class IndexOTUSerializer(serializers.Serializer):
    id = serializers.CharField()
    name = serializers.CharField()
    version = serializers.IntegerField()
    change_count = serializers.IntegerField()


class IndexFileSerializer(serializers.ModelSerializer):
    download_url = serializers.SerializerMethodField()

    class Meta:
        model = IndexFile
        fields = ["id", "name", "type", "size", "download_url"]

    def get_download_url(self, index_file) -> str:
        return download_url(index_file.index_id, index_file.name)


class IndexFileUploadedSerializer(IndexFileSerializer):
    """The Job API's answer to a file upload: Virtool's `{id, name, reference, size, type}`."""

    index = serializers.CharField(source="index_id")
    reference = serializers.CharField(source="index.reference_id")

    class Meta(IndexFileSerializer.Meta):
        fields = ["id", "name", "index", "reference", "size", "type", "download_url"]


@extend_schema_field({"type": "object", "additionalProperties": {"type": "integer"}})
class ManifestField(serializers.JSONField):
    """OTU id → the OTU's version in the index."""


class IndexDetailSerializer(IndexListSerializer):
    """GET /api/indexes/{id} (spec/indexes.md), with the reference, changed OTUs and files."""

    manifest = ManifestField()
    reference = IndexReferenceSerializer()
    contributors = ContributorSerializer(many=True)
    otus = IndexOTUSerializer(many=True, source="changed_otus")
    files = IndexFileSerializer(many=True, source="file_list")


class IndexJobSerializer(serializers.Serializer):
    id = serializers.CharField()
    workflow = serializers.CharField()
    state = serializers.CharField()
    progress = serializers.FloatField()
    key = serializers.CharField(
        required=False,
        help_text="External runner only: the job key, shown once. "
        'The runner authenticates as `Authorization: Basic base64("job-{id}:{key}")`.',
    )

    def to_representation(self, job):
        data = super().to_representation(job)
        if not getattr(job, "key", None):
            data.pop("key", None)
        return data


class IndexCreatedSerializer(IndexDetailSerializer):
    job = IndexJobSerializer()


def _runner_field() -> serializers.ChoiceField:
    return serializers.ChoiceField(
        choices=list(RUNNERS),
        default=RUNNER_CELERY,
        help_text="`celery` (default): a worker builds the index. `external`: no task is queued; "
        "the response's job carries the key an external runner uses with the Job API to upload "
        "the files (POST /api/indexes/{id}/files) and finalize (PATCH /api/indexes/{id}).",
    )


class IndexCreateSerializer(RequestSerializer):
    runner = _runner_field()


class IndexCreateQuerySerializer(serializers.Serializer):
    """`?runner=` (the body's field, given in the query string instead)."""

    runner = _runner_field()


class QueryBooleanField(serializers.BooleanField):
    """`true`/`false` (and DRF's other spellings); absent or empty: not given. `null` is not a
    value a query can give (DRF's BooleanField would read it as absent)."""

    NULL_VALUES = {"", None}


class IndexListQuerySerializer(serializers.Serializer):
    ready = QueryBooleanField(required=False, allow_null=True, default=None)


class UnbuiltStatsSerializer(serializers.Serializer):
    change_count = serializers.IntegerField(help_text="Unbuilt changes.")
    modified_otu_count = serializers.IntegerField(help_text="OTUs with unbuilt changes.")
    modified_kind_count = serializers.IntegerField()
    total_otu_count = serializers.IntegerField()


class IndexFileUploadQuerySerializer(serializers.Serializer):
    name = serializers.CharField(max_length=64)
