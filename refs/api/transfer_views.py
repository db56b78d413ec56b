"""Export, remote release check and remote update of references. Thin: the export is
refs.processes.export, the release check and update are refs.services.

POST/DELETE /api/refs (import, clone, remote install, deletion) are in refs.api.views and
call refs.services too.
"""

import json

from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import renderers, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from refs import selectors, services
from refs.permissions import reference_get_visible, reference_rights_check
from refs.processes import export

from virtool_site.api.pagination import query_validate
from virtool_site.api.schema import errors, responses


class ExportQuerySerializer(serializers.Serializer):
    scope = serializers.ChoiceField(
        choices=export.EXPORT_SCOPES,
        default="built",
        help_text="`built`: every OTU as in its last index build (never-built OTUs left out); "
        "`unbuilt`: every OTU as it is now.",
    )


class ReleaseSerializer(serializers.Serializer):
    id = serializers.IntegerField(allow_null=True)
    name = serializers.CharField(allow_blank=True)
    body = serializers.CharField(allow_blank=True)
    etag = serializers.CharField(allow_null=True)
    filename = serializers.CharField()
    size = serializers.IntegerField(allow_null=True)
    html_url = serializers.URLField(allow_null=True)
    download_url = serializers.URLField()
    published_at = serializers.CharField(allow_null=True)
    content_type = serializers.CharField(allow_null=True)
    newer = serializers.BooleanField()
    retrieved_at = serializers.CharField()


class ProcessRefSerializer(serializers.Serializer):
    id = serializers.CharField()


class UpdateSerializer(serializers.Serializer):
    id = serializers.IntegerField(allow_null=True)
    name = serializers.CharField(allow_blank=True, allow_null=True)
    body = serializers.CharField(allow_blank=True, allow_null=True)
    filename = serializers.CharField(allow_null=True)
    size = serializers.IntegerField(allow_null=True)
    html_url = serializers.URLField(allow_null=True)
    published_at = serializers.CharField(allow_null=True)
    created_at = serializers.CharField()
    ready = serializers.BooleanField()
    user = serializers.JSONField(help_text='`{"id": username}`')
    process = ProcessRefSerializer(required=False)


class GzipRenderer(renderers.BaseRenderer):
    """Lets clients ask for `application/gzip`; errors are still JSON."""

    media_type = "application/gzip"
    format = "gz"
    charset = None
    render_style = "binary"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        if isinstance(data, bytes):
            return data
        return json.dumps(data).encode()


class ReferenceExportView(APIView):
    renderer_classes = [renderers.JSONRenderer, GzipRenderer]

    @extend_schema(
        # The file is streamed whatever the renderer: DRF's `format` override means nothing here.
        parameters=[ExportQuerySerializer, OpenApiParameter("format", exclude=True)],
        responses={
            (200, "application/gzip"): OpenApiResponse(
                OpenApiTypes.BINARY, description="reference.json.gz, streamed"
            ),
            **errors(404, 422),
        },
        tags=["refs"],
    )
    def get(self, request, ref_id):
        """Download the reference as a Virtool reference file (`reference.json.gz`)."""
        reference = reference_get_visible(user=request.user, reference_id=ref_id)
        query = query_validate(ExportQuerySerializer, request)
        response = StreamingHttpResponse(
            export.reference_export_stream(reference=reference, scope=query["scope"]),
            content_type="application/gzip",
        )
        response["Content-Disposition"] = 'attachment; filename="reference.json.gz"'
        return response


class ReferenceReleaseView(APIView):
    @extend_schema(responses=responses({200: ReleaseSerializer}, 400, 404), tags=["refs"])
    def get(self, request, ref_id):
        """Check GitHub for the latest release of a remote reference (`newer`: not installed)."""
        reference = reference_get_visible(user=request.user, reference_id=ref_id)
        release = services.reference_release_check(reference=reference)
        return Response(release)


class ReferenceUpdatesView(APIView):
    @extend_schema(responses=responses({200: UpdateSerializer(many=True)}, 404), tags=["refs"])
    def get(self, request, ref_id):
        """The releases installed, or being installed, in a remote reference."""
        return Response(selectors.reference_updates(user=request.user, reference_id=ref_id))

    @extend_schema(request=None, responses=responses({201: UpdateSerializer}, 400, 403, 404, 409), tags=["refs"])
    def post(self, request, ref_id):
        """Install the newer release found by GET .../release (the `modify` right)."""
        reference = reference_get_visible(user=request.user, reference_id=ref_id)
        reference_rights_check(user=request.user, reference=reference, right="modify")
        update, process = services.reference_update_remote(user=request.user, reference=reference)
        return Response(
            {**update, "process": {"id": process.id}},
            status=status.HTTP_201_CREATED,
            headers={"Content-Location": f"/api/processes/{process.id}"},
        )
