"""Serializers of the refget and seqcol documents (for the OpenAPI schema) and query strings.

The views build their documents as plain dicts; these describe them exactly for
drf-spectacular, and validate the seqcol query strings (422 "Invalid query").
"""

from __future__ import annotations

from drf_spectacular.utils import PolymorphicProxySerializer, extend_schema_field
from rest_framework import serializers

from brapi.refget.digests import ATTRIBUTES, LEVEL2_ATTRIBUTES

#: /list pages: at most this many digests; the page number is bounded so offsets stay sane.
LIST_PAGE_SIZE_DEFAULT = 100
LIST_PAGE_SIZE_MAX = 1000
LIST_PAGE_MAX = 10**9


# GA4GH service-info ------------------------------------------------------------------------


class ServiceTypeSerializer(serializers.Serializer):
    group = serializers.CharField()
    artifact = serializers.CharField()
    version = serializers.CharField()


class OrganizationSerializer(serializers.Serializer):
    name = serializers.CharField()
    url = serializers.CharField()


class ServiceInfoSerializer(serializers.Serializer):
    id = serializers.CharField()
    name = serializers.CharField()
    type = ServiceTypeSerializer()
    description = serializers.CharField()
    organization = OrganizationSerializer()
    documentationUrl = serializers.CharField()
    version = serializers.CharField()


class RefgetCapabilitiesSerializer(serializers.Serializer):
    circular_supported = serializers.BooleanField()
    subsequence_limit = serializers.IntegerField(allow_null=True)
    algorithms = serializers.ListField(child=serializers.CharField())
    identifier_types = serializers.ListField(child=serializers.CharField())


class RefgetServiceInfoSerializer(ServiceInfoSerializer):
    refget = RefgetCapabilitiesSerializer()


class SeqcolCapabilitiesSerializer(serializers.Serializer):
    schema = serializers.JSONField(help_text="The JSON Schema of the collections this server holds")


class SeqcolServiceInfoSerializer(ServiceInfoSerializer):
    seqcol = SeqcolCapabilitiesSerializer()


# Sequences ---------------------------------------------------------------------------------


class AliasSerializer(serializers.Serializer):
    alias = serializers.CharField()
    naming_authority = serializers.CharField()


class SequenceMetadataSerializer(serializers.Serializer):
    id = serializers.CharField(help_text="The MD5 of the sequence, the default checksum")
    md5 = serializers.CharField()
    ga4gh = serializers.CharField(allow_null=True, help_text="`SQ.` + sha512t24u of the sequence")
    length = serializers.IntegerField()
    aliases = AliasSerializer(many=True)


class MetadataSerializer(serializers.Serializer):
    metadata = SequenceMetadataSerializer()


# Collections -------------------------------------------------------------------------------


class NameLengthPairSerializer(serializers.Serializer):
    length = serializers.IntegerField()
    name = serializers.CharField()


class CollectionLevel1Serializer(serializers.Serializer):
    """Each attribute's level-1 digest."""

    lengths = serializers.CharField()
    name_length_pairs = serializers.CharField()
    names = serializers.CharField()
    sequences = serializers.CharField()
    sorted_name_length_pairs = serializers.CharField()
    sorted_sequences = serializers.CharField()


class CollectionLevel2Serializer(serializers.Serializer):
    """The canonical representation (transient attributes have none)."""

    lengths = serializers.ListField(child=serializers.IntegerField())
    name_length_pairs = NameLengthPairSerializer(many=True)
    names = serializers.ListField(child=serializers.CharField())
    sequences = serializers.ListField(child=serializers.CharField())
    sorted_sequences = serializers.ListField(child=serializers.CharField())


CollectionSerializer = PolymorphicProxySerializer(
    component_name="SeqcolCollection",
    serializers=[CollectionLevel2Serializer, CollectionLevel1Serializer],
    resource_type_field_name=None,
)


class ComparisonDigestsSerializer(serializers.Serializer):
    a = serializers.CharField(allow_null=True)
    b = serializers.CharField(allow_null=True)


class ComparisonAttributesSerializer(serializers.Serializer):
    a_only = serializers.ListField(child=serializers.CharField())
    b_only = serializers.ListField(child=serializers.CharField())
    a_and_b = serializers.ListField(child=serializers.CharField())


@extend_schema_field({"type": "object", "additionalProperties": {"type": "boolean", "nullable": True}})
class SameOrderField(serializers.JSONField):
    pass


class ComparisonElementsSerializer(serializers.Serializer):
    a_count = serializers.DictField(child=serializers.IntegerField())
    b_count = serializers.DictField(child=serializers.IntegerField())
    a_and_b_count = serializers.DictField(child=serializers.IntegerField())
    a_and_b_same_order = SameOrderField()


class ComparisonSerializer(serializers.Serializer):
    digests = ComparisonDigestsSerializer()
    attributes = ComparisonAttributesSerializer()
    array_elements = ComparisonElementsSerializer()


#: A level-2 collection sent for comparison: attributes are arrays (others are listed only).
LEVEL2_BODY_SCHEMA = {
    "type": "object",
    "description": "A sequence collection in its level-2 (canonical) representation",
    "additionalProperties": {"type": "array", "items": {}},
}


class ListPaginationSerializer(serializers.Serializer):
    page = serializers.IntegerField()
    page_size = serializers.IntegerField()
    total = serializers.IntegerField()


class DigestListSerializer(serializers.Serializer):
    results = serializers.ListField(child=serializers.CharField())
    pagination = ListPaginationSerializer()


# Query strings -----------------------------------------------------------------------------


class CollectionQuerySerializer(serializers.Serializer):
    level = serializers.IntegerField(
        min_value=1, max_value=2, default=2, help_text="1: each attribute's digest; 2: the arrays (default)"
    )


class PageQuerySerializer(serializers.Serializer):
    page = serializers.IntegerField(min_value=0, max_value=LIST_PAGE_MAX, default=0, help_text="From 0")
    page_size = serializers.IntegerField(min_value=1, max_value=LIST_PAGE_SIZE_MAX, default=LIST_PAGE_SIZE_DEFAULT)


def _filter_field(attribute: str) -> serializers.CharField:
    return serializers.CharField(required=False, help_text=f"Only collections whose `{attribute}` has this level-1 digest")


class CollectionListQuerySerializer(PageQuerySerializer):
    """Filters: an attribute's level-1 digest; several are ANDed."""

    names = _filter_field("names")
    lengths = _filter_field("lengths")
    sequences = _filter_field("sequences")
    name_length_pairs = _filter_field("name_length_pairs")
    sorted_name_length_pairs = _filter_field("sorted_name_length_pairs")
    sorted_sequences = _filter_field("sorted_sequences")


ATTRIBUTE_CHOICES = list(ATTRIBUTES)
LEVEL2_ATTRIBUTE_CHOICES = list(LEVEL2_ATTRIBUTES)
