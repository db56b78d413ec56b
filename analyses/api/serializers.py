from drf_spectacular.utils import PolymorphicProxySerializer, extend_schema_field
from rest_framework import serializers

from analyses.models import Analysis, AnalysisFile, LibraryType, NuVsBlast, Sample, Workflow
from analyses.results import (
    NumberField,
    NuvsHitSerializer,
    NuvsResultsSerializer,
    PathoscopeHitSerializer,
    PathoscopeResultsSerializer,
)
from virtool_site.api.fields import FileNameField, UserRefField
from virtool_site.api.inputs import RequestSerializer

# Samples -----------------------------------------------------------------------------------


class SampleSerializer(serializers.ModelSerializer):
    user = UserRefField(allow_null=True)
    group = serializers.SerializerMethodField()

    class Meta:
        model = Sample
        fields = [
            "id", "name", "host", "isolate", "locale", "notes", "library_type", "user", "group",
            "group_read", "group_write", "all_read", "all_write", "created_at",
        ]

    def get_group(self, sample) -> str | None:
        return sample.group.name if sample.group_id else None


class SampleWriteSerializer(RequestSerializer):
    name = serializers.CharField(max_length=255)
    host = serializers.CharField(max_length=255, allow_blank=True, required=False)
    isolate = serializers.CharField(max_length=255, allow_blank=True, required=False)
    locale = serializers.CharField(max_length=255, allow_blank=True, required=False)
    notes = serializers.CharField(allow_blank=True, required=False, trim_whitespace=False)
    library_type = serializers.ChoiceField(choices=LibraryType.choices, required=False)
    group = serializers.CharField(max_length=150, allow_null=True, allow_blank=True, required=False, help_text="Group name, or null")
    group_read = serializers.BooleanField(required=False)
    group_write = serializers.BooleanField(required=False)
    all_read = serializers.BooleanField(required=False)
    all_write = serializers.BooleanField(required=False)


class SampleCreateSerializer(SampleWriteSerializer):
    pass


class SampleUpdateSerializer(SampleWriteSerializer):
    name = serializers.CharField(max_length=255, required=False)


# Results (as the API shows them) -----------------------------------------------------------


class BlastHitSerializer(serializers.Serializer):
    accession = serializers.CharField()
    taxid = serializers.IntegerField(allow_null=True)
    title = serializers.CharField()
    name = serializers.CharField()
    len = serializers.IntegerField()
    identity = serializers.IntegerField()
    evalue = serializers.FloatField()
    align_len = serializers.IntegerField()
    score = serializers.FloatField()
    bit_score = serializers.FloatField()
    gaps = serializers.IntegerField()


class BlastResultSerializer(serializers.Serializer):
    program = serializers.CharField(allow_null=True)
    version = serializers.CharField(allow_null=True)
    database = serializers.CharField(required=False)
    hits = BlastHitSerializer(many=True)


class BlastSerializer(serializers.ModelSerializer):
    """The PUT answer: `{rid, ready, last_checked_at, interval}`."""

    class Meta:
        model = NuVsBlast
        fields = ["rid", "ready", "last_checked_at", "interval"]


class BlastDocumentSerializer(serializers.ModelSerializer):
    """A BLAST as shown under its contig in the analysis document."""

    result = BlastResultSerializer(allow_null=True)

    class Meta:
        model = NuVsBlast
        fields = ["rid", "ready", "last_checked_at", "interval", "result", "error"]


class NuvsHitDocumentSerializer(NuvsHitSerializer):
    blast = BlastDocumentSerializer(allow_null=True)


class NuvsResultsDocumentSerializer(NuvsResultsSerializer):
    hits = NuvsHitDocumentSerializer(many=True)


class AnalysisIsolateRefSerializer(serializers.Serializer):
    id = serializers.CharField(allow_null=True)
    name = serializers.CharField()


class AnalysisOtuRefSerializer(serializers.Serializer):
    id = serializers.CharField()
    version = serializers.IntegerField()
    name = serializers.CharField()
    abbreviation = serializers.CharField(allow_blank=True)


class PathoscopeHitDocumentSerializer(PathoscopeHitSerializer):
    otu = AnalysisOtuRefSerializer()
    isolate = AnalysisIsolateRefSerializer()
    accession = serializers.CharField()
    definition = serializers.CharField(allow_blank=True)
    length = serializers.IntegerField(allow_null=True)
    median_depth = NumberField()


class PathoscopeResultsDocumentSerializer(PathoscopeResultsSerializer):
    hits = PathoscopeHitDocumentSerializer(many=True)


@extend_schema_field(
    PolymorphicProxySerializer(
        component_name="AnalysisResults",
        serializers=[PathoscopeResultsDocumentSerializer, NuvsResultsDocumentSerializer],
        resource_type_field_name=None,
        allow_null=True,
    )
)
class ResultsDocumentField(serializers.JSONField):
    pass


# Analyses ----------------------------------------------------------------------------------


class AnalysisIdNameSerializer(serializers.Serializer):
    id = serializers.CharField()
    name = serializers.CharField(allow_null=True)


class AnalysisIndexRefSerializer(serializers.Serializer):
    id = serializers.CharField()
    version = serializers.IntegerField()


class AnalysisJobRefSerializer(serializers.Serializer):
    id = serializers.CharField()


class AnalysisFileSerializer(serializers.ModelSerializer):
    analysis = serializers.CharField(source="analysis_id")

    class Meta:
        model = AnalysisFile
        fields = ["analysis", "description", "format", "id", "name", "name_on_disk", "size", "uploaded_at"]


class AnalysisSummarySerializer(serializers.ModelSerializer):
    """An analysis without its results. `algorithm` is the older Virtool name of `workflow`."""

    algorithm = serializers.CharField(source="workflow")
    job = serializers.SerializerMethodField()
    sample = serializers.SerializerMethodField()
    reference = serializers.SerializerMethodField()
    index = serializers.SerializerMethodField()
    user = UserRefField(allow_null=True)
    subtractions = serializers.SerializerMethodField()

    class Meta:
        model = Analysis
        fields = [
            "id", "workflow", "algorithm", "ready", "created_at", "updated_at", "job", "sample",
            "reference", "index", "user", "subtractions",
        ]

    def get_job(self, analysis) -> AnalysisJobRefSerializer(allow_null=True):
        return {"id": analysis.job_id} if analysis.job_id else None

    def get_sample(self, analysis) -> AnalysisIdNameSerializer(allow_null=True):
        return {"id": analysis.sample.id, "name": analysis.sample.name} if analysis.sample else None

    def get_reference(self, analysis) -> AnalysisIdNameSerializer:
        return {"id": analysis.reference_id, "name": analysis.reference_name}

    def get_index(self, analysis) -> AnalysisIndexRefSerializer:
        return {"id": analysis.index_id, "version": analysis.index_version}

    def get_subtractions(self, analysis) -> AnalysisIdNameSerializer(many=True):
        return [{"id": subtraction_id, "name": None} for subtraction_id in analysis.subtractions]


class AnalysisSerializer(AnalysisSummarySerializer):
    """The whole analysis document. `results` is null until the runner reports them."""

    read_count = serializers.IntegerField(
        read_only=True, allow_null=True, help_text="`results.read_count`, at the top level as the spec shows it; null until reported"
    )
    diagnosis = serializers.ListField(
        child=serializers.DictField(), read_only=True, allow_null=True,
        help_text="`results.hits` (Pathoscope's OTU hits, NuVs' contigs), at the top level as the spec shows it; null until reported",
    )
    results = ResultsDocumentField(source="results_document", allow_null=True)
    files = AnalysisFileSerializer(many=True)

    class Meta(AnalysisSummarySerializer.Meta):
        fields = AnalysisSummarySerializer.Meta.fields + ["read_count", "diagnosis", "results", "files"]


class AnalysisJobKeySerializer(serializers.Serializer):
    id = serializers.CharField()
    key = serializers.CharField(help_text="The job key, shown only here: the runner authenticates with "
                                "`Authorization: Basic base64(\"job-{id}:{key}\")`.")


class AnalysisCreatedSerializer(AnalysisSummarySerializer):
    job = serializers.SerializerMethodField()

    def get_job(self, analysis) -> AnalysisJobKeySerializer:
        return {"id": analysis.job_id, "key": self.context["job_key"]}


class AnalysisCreateSerializer(RequestSerializer):
    ref_id = serializers.CharField(max_length=64)
    workflow = serializers.ChoiceField(choices=Workflow.choices)
    subtractions = serializers.ListField(
        child=serializers.CharField(max_length=64), required=False, default=list, max_length=100
    )


@extend_schema_field(
    PolymorphicProxySerializer(
        component_name="AnalysisResultsInput",
        serializers=[PathoscopeResultsSerializer, NuvsResultsSerializer],
        resource_type_field_name=None,
    )
)
class ResultsInputField(serializers.JSONField):
    pass


class AnalysisFinalizeSerializer(RequestSerializer):
    results = ResultsInputField(help_text="In the shape of the analysis's workflow")


class AnalysisFileQuerySerializer(serializers.Serializer):
    name = FileNameField(max_length=255)
    format = serializers.CharField(max_length=16, required=False)
