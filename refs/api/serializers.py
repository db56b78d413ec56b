import re

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from refs.services import sequence_clean
from virtool_site.api.fields import PatternField, UserRefField
from virtool_site.api.inputs import RequestSerializer

# Shared pieces -----------------------------------------------------------------------------


class RefsIdSerializer(serializers.Serializer):
    id = serializers.CharField()


class LatestBuildSerializer(serializers.Serializer):
    id = serializers.CharField()
    version = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    user = UserRefField(allow_null=True)
    has_json = serializers.BooleanField()


class ReferenceContributorSerializer(serializers.Serializer):
    id = serializers.CharField()
    count = serializers.IntegerField()


class InternalControlSerializer(serializers.Serializer):
    id = serializers.CharField()
    name = serializers.CharField()


class ReferenceRightsSerializer(serializers.Serializer):
    build = serializers.BooleanField()
    modify = serializers.BooleanField()
    modify_otu = serializers.BooleanField()
    modify_kind = serializers.BooleanField(source="modify_otu", help_text="Older name of modify_otu")
    remove = serializers.BooleanField()
    created_at = serializers.DateTimeField()


class ReferenceUserSerializer(ReferenceRightsSerializer):
    id = serializers.CharField(source="user.username", help_text="User id (username)")


class ReferenceGroupSerializer(ReferenceRightsSerializer):
    id = serializers.CharField(source="group.name", help_text="Group id (its name)")


# References -----------------------------------------------------------------------------------

#: Omitted from the body when empty, as Virtool's documents do.
OPTIONAL_SOURCE_FIELDS = ("imported_from", "cloned_from", "remotes_from")


class ReferenceListSerializer(serializers.Serializer):
    id = serializers.CharField()
    name = serializers.CharField()
    description = serializers.CharField()
    created_at = serializers.DateTimeField()
    data_type = serializers.CharField(allow_null=True)
    organism = serializers.CharField(allow_null=True)
    public = serializers.BooleanField()
    user = UserRefField(allow_null=True)
    imported_from = serializers.JSONField(required=False, help_text="Present for imported references")
    cloned_from = serializers.JSONField(required=False, help_text="Present for cloned references")
    remotes_from = serializers.JSONField(required=False, help_text="Present for remote references")
    release = serializers.JSONField(allow_null=True)
    installed = serializers.JSONField(allow_null=True)
    updates = serializers.JSONField()
    process = serializers.SerializerMethodField()
    latest_build = LatestBuildSerializer(allow_null=True)
    otu_count = serializers.IntegerField()
    unbuilt_change_count = serializers.IntegerField()
    restrict_source_types = serializers.BooleanField()
    source_types = serializers.ListField(child=serializers.CharField())

    @extend_schema_field(RefsIdSerializer(allow_null=True))
    def get_process(self, reference):
        return {"id": reference.process_id} if reference.process_id else None

    def to_representation(self, instance):
        data = super().to_representation(instance)
        for field in OPTIONAL_SOURCE_FIELDS:
            if data.get(field) is None:
                data.pop(field, None)
        return data


class ReferenceSerializer(ReferenceListSerializer):
    users = ReferenceUserSerializer(many=True, source="user_entries")
    groups = ReferenceGroupSerializer(many=True, source="group_entries")
    contributors = ReferenceContributorSerializer(many=True)
    internal_control = InternalControlSerializer(allow_null=True, source="internal_control_otu")


#: `refs.remotes.SLUG_PATTERN`, which also refuses `..` anywhere.
REMOTE_SLUG_PATTERN = r"^[A-Za-z0-9_.-]{1,100}/[A-Za-z0-9_.-]{1,100}$"


class ReferenceCreateSerializer(RequestSerializer):
    name = serializers.CharField(max_length=255)
    description = serializers.CharField(required=False, allow_blank=True, default="")
    data_type = serializers.ChoiceField(choices=["genome", "barcode"], default="genome")
    organism = serializers.CharField(max_length=255, required=False, allow_blank=True, default="virus")
    public = serializers.BooleanField(default=False)
    clone_from = serializers.CharField(required=False, max_length=64, help_text="Id of a reference to clone")
    import_from = serializers.CharField(required=False, max_length=300, help_text="Id of an uploaded reference file")
    remote_from = PatternField(
        REMOTE_SLUG_PATTERN,
        required=False,
        help_text="GitHub slug of a reference repository (owner/name, without `..`)",
    )

    SOURCES = ("clone_from", "import_from", "remote_from")

    def validate(self, attrs):
        given = [source for source in self.SOURCES if attrs.get(source)]
        if len(given) > 1:
            raise serializers.ValidationError(
                {source: ["Only one of clone_from, import_from and remote_from may be given"] for source in given}
            )
        return attrs


class ReferenceUpdateSerializer(RequestSerializer):
    name = serializers.CharField(max_length=255, required=False)
    description = serializers.CharField(required=False, allow_blank=True)
    organism = serializers.CharField(max_length=255, required=False, allow_blank=True)
    internal_control = serializers.CharField(
        max_length=8, required=False, allow_null=True, allow_blank=True, help_text="OTU id; null or empty clears it"
    )
    restrict_source_types = serializers.BooleanField(required=False)
    source_types = serializers.ListField(
        child=serializers.CharField(max_length=64, allow_blank=True), required=False, max_length=100
    )
    public = serializers.BooleanField(required=False)


class RightsInputSerializer(RequestSerializer):
    build = serializers.BooleanField(required=False)
    modify = serializers.BooleanField(required=False)
    modify_otu = serializers.BooleanField(required=False)
    modify_kind = serializers.BooleanField(required=False, help_text="Older name of modify_otu")
    remove = serializers.BooleanField(required=False)

    def validate(self, attrs):
        if "modify_kind" in attrs:
            kind = attrs.pop("modify_kind")
            if "modify_otu" in attrs and attrs["modify_otu"] != kind:
                raise serializers.ValidationError({"modify_kind": ["Differs from modify_otu"]})
            attrs["modify_otu"] = kind
        return attrs


class ReferenceUserAddSerializer(RightsInputSerializer):
    user_id = serializers.CharField(max_length=150)


class ReferenceGroupAddSerializer(RightsInputSerializer):
    group_id = serializers.CharField(max_length=150)


# OTUs -----------------------------------------------------------------------------------------

MOLECULES = ["ssDNA", "dsDNA", "ssRNA", "ssRNA+", "ssRNA-", "dsRNA"]


class SchemaSegmentSerializer(RequestSerializer):
    name = serializers.CharField(max_length=255)
    molecule = serializers.ChoiceField(choices=MOLECULES, allow_null=True, allow_blank=True, required=False, default=None)
    required = serializers.BooleanField(default=True)


def _schema_validate(schema: list) -> list:
    names = [segment["name"] for segment in schema]
    if len(names) != len(set(names)):
        raise serializers.ValidationError("Segment names must be unique")
    return [dict(segment) for segment in schema]


class OTUCreateSerializer(RequestSerializer):
    name = serializers.CharField(max_length=255)
    abbreviation = serializers.CharField(max_length=255, required=False, allow_blank=True, default="")
    schema = SchemaSegmentSerializer(many=True, required=False, default=list)

    def validate_schema(self, value):
        return _schema_validate(value)


class OTUUpdateSerializer(RequestSerializer):
    name = serializers.CharField(max_length=255, required=False)
    abbreviation = serializers.CharField(max_length=255, required=False, allow_blank=True)
    schema = SchemaSegmentSerializer(many=True, required=False)

    def validate_schema(self, value):
        return _schema_validate(value)


class OTUIssuesSerializer(serializers.Serializer):
    empty_otu = serializers.BooleanField()
    empty_isolate = serializers.ListField(child=serializers.CharField())
    empty_sequence = serializers.ListField(child=serializers.CharField())
    isolate_inconsistency = serializers.BooleanField()


class OTUListItemSerializer(serializers.Serializer):
    id = serializers.CharField()
    name = serializers.CharField()
    abbreviation = serializers.CharField()
    verified = serializers.BooleanField()
    version = serializers.IntegerField()
    reference = serializers.SerializerMethodField()
    issues = serializers.SerializerMethodField()

    @extend_schema_field(RefsIdSerializer)
    def get_reference(self, otu):
        return {"id": otu.reference_id}

    @extend_schema_field(OTUIssuesSerializer(allow_null=True))
    def get_issues(self, otu):
        return otu.issues


class IsolateSequenceSerializer(serializers.Serializer):
    id = serializers.CharField()
    accession = serializers.CharField()
    definition = serializers.CharField()
    host = serializers.CharField()
    segment = serializers.CharField(allow_null=True)
    sequence = serializers.CharField()


class SequenceDetailSerializer(IsolateSequenceSerializer):
    otu_id = serializers.CharField()
    isolate_id = serializers.CharField()
    reference = RefsIdSerializer()


class IsolateSerializer(serializers.Serializer):
    id = serializers.CharField()
    source_type = serializers.CharField()
    source_name = serializers.CharField()
    default = serializers.BooleanField()
    sequences = IsolateSequenceSerializer(many=True)


class MostRecentChangeSerializer(serializers.Serializer):
    id = serializers.CharField()
    method_name = serializers.CharField()
    description = serializers.CharField()
    created_at = serializers.DateTimeField()
    user = RefsIdSerializer(allow_null=True)


class OTUSerializer(serializers.Serializer):
    id = serializers.CharField()
    name = serializers.CharField()
    abbreviation = serializers.CharField()
    schema = SchemaSegmentSerializer(many=True)
    taxid = serializers.IntegerField(allow_null=True)
    version = serializers.IntegerField()
    verified = serializers.BooleanField()
    imported = serializers.BooleanField()
    last_indexed_version = serializers.IntegerField(allow_null=True)
    reference = RefsIdSerializer()
    isolates = IsolateSerializer(many=True)
    issues = OTUIssuesSerializer(allow_null=True, help_text="Why the OTU is not verified; null when it is")
    most_recent_change = MostRecentChangeSerializer(allow_null=True)


class IsolateCreateSerializer(RequestSerializer):
    source_type = serializers.CharField(max_length=64, required=False, allow_blank=True, default="")
    source_name = serializers.CharField(max_length=255, required=False, allow_blank=True, default="")
    default = serializers.BooleanField(default=False)


class IsolateUpdateSerializer(RequestSerializer):
    source_type = serializers.CharField(max_length=64, required=False, allow_blank=True)
    source_name = serializers.CharField(max_length=255, required=False, allow_blank=True)


_IUPAC = "ACGTURYSWKMBDHVNacgturyswkmbdhvn"
#: What a sequence may be on input: IUPAC codes (any case) with line breaks, tabs and spaces
#: between them, as FASTA text has; stored upper-cased without the whitespace.
SEQUENCE_INPUT_PATTERN = rf"^[{_IUPAC} \t\r\n]*[{_IUPAC}][{_IUPAC} \t\r\n]*$"


@extend_schema_field({"type": "string", "pattern": SEQUENCE_INPUT_PATTERN})
class SequenceField(serializers.CharField):
    """Checked as given (the documented pattern), then cleaned by `sequence_clean`."""

    def __init__(self, **kwargs):
        super().__init__(trim_whitespace=False, **kwargs)

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        if not re.fullmatch(SEQUENCE_INPUT_PATTERN, value):
            raise serializers.ValidationError("Sequence may only contain IUPAC nucleotide codes")
        return value


def _sequence_validate(value: str) -> str:
    try:
        return sequence_clean(value)
    except ValueError as error:
        raise serializers.ValidationError(str(error)) from None


class SequenceCreateSerializer(RequestSerializer):
    accession = serializers.CharField(max_length=255)
    definition = serializers.CharField(allow_blank=True)
    host = serializers.CharField(max_length=255, required=False, allow_blank=True, default="")
    segment = serializers.CharField(max_length=255, required=False, allow_null=True, allow_blank=True, default=None)
    sequence = SequenceField(help_text="IUPAC nucleotide codes")

    def validate_sequence(self, value):
        return _sequence_validate(value)


class SequenceUpdateSerializer(RequestSerializer):
    accession = serializers.CharField(max_length=255, required=False)
    definition = serializers.CharField(required=False, allow_blank=True)
    host = serializers.CharField(max_length=255, required=False, allow_blank=True)
    segment = serializers.CharField(max_length=255, required=False, allow_null=True, allow_blank=True)
    sequence = SequenceField(required=False, help_text="IUPAC nucleotide codes")

    def validate_sequence(self, value):
        return _sequence_validate(value)
