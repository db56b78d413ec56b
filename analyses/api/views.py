"""Samples, analyses, analysis files, Pathoscope exports and NuVs BLASTs.

Rights: a sample's rights guard it and every analysis of it. An existing sample or analysis the
user may not read or change answers 403 "Insufficient rights"; a missing one 404. An analysis
whose sample is gone answers 400 "Parent sample does not exist". The runner of an analysis's
job (Job API) may read it, upload its files and report its results, and nothing else.
"""

import os
import tempfile

from django.http import FileResponse, StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.response import Response
from rest_framework.views import APIView

from analyses import export, selectors, services
from analyses.api import serializers as s
from analyses.filtersets import SampleFilterSet
from analyses.models import AnalysisFile, NuVsBlast, Workflow
from analyses.permissions import WRITE
from virtool_site.api.filtersets import filterset_values
from virtool_site.api.mixins import BoundedUploadMixin
from virtool_site.files import FILE_NAME_PATTERN
from virtool_site.api.pagination import query_validate
from virtool_site.api.permissions import RequiresPermission, is_job
from virtool_site.api.schema import errors, responses, stored_download
from virtool_site.api.views import PagedListView
from virtool_site.errors import BadRequest, Conflict, InsufficientRights, NotFound
from virtool_site.services import user_has_permission
from virtool_site.storage import stored_response

SAMPLES = ["samples"]
ANALYSES = ["analyses"]


class FirstRendererNegotiation(DefaultContentNegotiation):
    """Always the first renderer (JSON) for whatever the view answers in DRF's own terms.

    File downloads answer any `Accept`, their errors are JSON; and on the file upload, the
    `format` query parameter is the analysis file format, not DRF's renderer override.
    """

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


# Samples -----------------------------------------------------------------------------------


class SamplesView(PagedListView):
    serializer_class = s.SampleSerializer
    search_parameters = ("find",)

    def get_permissions(self):
        if self.request.method == "POST":
            return [RequiresPermission("create_sample")()]
        return super().get_permissions()

    @extend_schema(
        parameters=[OpenApiParameter("find", str, description="Part of a sample's name, host, isolate or owner")],
        responses=responses({200: s.SampleSerializer(many=True)}, 422),
        tags=SAMPLES,
    )
    def get(self, request):
        find = filterset_values(SampleFilterSet, request).get("find", "").strip()
        return Response(selectors.samples_page(request=request, find=find))

    @extend_schema(
        request=s.SampleCreateSerializer,
        responses=responses({201: s.SampleSerializer}, 400, 403, 422),
        tags=SAMPLES,
        description="Needs the `create_sample` permission. 400 \"Sample name is already in use\", "
        "400 \"Group does not exist\".",
    )
    def post(self, request):
        data = s.SampleCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        sample = services.sample_create(user=request.user, **data.validated_data)
        return Response(
            s.SampleSerializer(sample).data, status=status.HTTP_201_CREATED, headers={"Location": f"/api/samples/{sample.id}"}
        )


class SampleView(APIView):
    @extend_schema(responses=responses({200: s.SampleSerializer}, 403, 404), tags=SAMPLES)
    def get(self, request, sample_id):
        return Response(selectors.sample_document(user=request.user, sample_id=sample_id))

    @extend_schema(
        request=s.SampleUpdateSerializer,
        responses=responses({200: s.SampleSerializer}, 400, 403, 404, 422),
        tags=SAMPLES,
        description="Needs the write right; changing `group`, `group_read`, `group_write`, `all_read` or "
        "`all_write` needs the owner or an administrator.",
    )
    def patch(self, request, sample_id):
        sample = selectors.sample_get(user=request.user, sample_id=sample_id, right=WRITE)
        data = s.SampleUpdateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        sample = services.sample_update(user=request.user, sample=sample, data=data.validated_data)
        return Response(s.SampleSerializer(selectors.sample_get(user=request.user, sample_id=sample.id)).data)

    @extend_schema(responses=responses({204: None}, 403, 404, 503), tags=SAMPLES, description="Removes its analyses too.")
    def delete(self, request, sample_id):
        sample = selectors.sample_get(user=request.user, sample_id=sample_id, right=WRITE)
        services.sample_remove(sample=sample)
        return Response(status=status.HTTP_204_NO_CONTENT)


class SampleAnalysesView(PagedListView):
    serializer_class = s.AnalysisSummarySerializer

    @extend_schema(responses=responses({200: s.AnalysisSummarySerializer(many=True)}, 403, 404, 422), tags=ANALYSES)
    def get(self, request, sample_id):
        return Response(selectors.sample_analyses_page(request=request, sample_id=sample_id))

    @extend_schema(
        request=s.AnalysisCreateSerializer,
        responses=responses({201: s.AnalysisCreatedSerializer}, 400, 403, 404, 422),
        tags=ANALYSES,
        description="Needs the write right on the sample. Starts the analysis on the reference's latest "
        "ready index and creates its job; `job.key` is shown only in this answer, for the workflow runner. "
        "400 \"Reference does not exist\", 400 \"No ready index\".",
    )
    def post(self, request, sample_id):
        sample = selectors.sample_get(user=request.user, sample_id=sample_id, right=WRITE)
        data = s.AnalysisCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        analysis, key = services.analysis_create(user=request.user, sample=sample, **data.validated_data)
        return Response(
            s.AnalysisCreatedSerializer(analysis, context={"job_key": key}).data,
            status=status.HTTP_201_CREATED,
            headers={"Location": f"/api/analyses/{analysis.id}"},
        )


# Analyses ----------------------------------------------------------------------------------


class AnalysisView(APIView):
    allow_jobs = True

    @extend_schema(responses=responses({200: s.AnalysisSerializer}, 400, 403, 404), tags=ANALYSES)
    def get(self, request, analysis_id):
        return Response(selectors.analysis_document_read(user=request.user, analysis_id=analysis_id))

    @extend_schema(
        request=s.AnalysisFinalizeSerializer,
        responses=responses({200: s.AnalysisSerializer}, 400, 403, 404, 409, 413, 422),
        tags=ANALYSES,
        description="Job API: the runner of this analysis's job (or an administrator) stores the results, "
        "validated against the workflow's shape, and the analysis becomes ready. "
        "409 \"There is already a result for this analysis\"; 413 past DATA_UPLOAD_MAX_MEMORY_SIZE.",
    )
    def patch(self, request, analysis_id):
        if not (is_job(request) or request.user.is_superuser):
            raise InsufficientRights()
        analysis = selectors.analysis_get(user=request.user, analysis_id=analysis_id, allow_job=True)
        data = s.AnalysisFinalizeSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.analysis_finalize(analysis_id=analysis.id, results=data.validated_data["results"])
        return Response(selectors.analysis_document_read(user=None, analysis_id=analysis.id))

    @extend_schema(
        responses=responses({204: None}, 400, 403, 404, 409, 503),
        tags=ANALYSES,
        description="Needs the write right on the sample. 409 \"Analysis is still running\" while its job runs.",
    )
    def delete(self, request, analysis_id):
        analysis = selectors.analysis_get(user=request.user, analysis_id=analysis_id, right=WRITE)
        services.analysis_remove(analysis=analysis)
        return Response(status=status.HTTP_204_NO_CONTENT)


class AnalysisFilesView(BoundedUploadMixin, APIView):
    allow_jobs = True
    content_negotiation_class = FirstRendererNegotiation

    @extend_schema(
        parameters=[
            OpenApiParameter("name", str, required=True, pattern=FILE_NAME_PATTERN, description="The file's name"),
            OpenApiParameter("format", str, enum=AnalysisFile.Format.values, description="Inferred from the name when omitted"),
        ],
        request={
            "multipart/form-data": {
                "type": "object",
                "properties": {"file": {"type": "string", "format": "binary"}},
                "required": ["file"],
            }
        },
        responses=responses({201: s.AnalysisFileSerializer}, 400, 403, 404, 409, 413, 415, 422, 503),
        tags=ANALYSES,
        description="The analysis's job runner, or a user with the `upload_file` permission and the write "
        "right on the sample. 400 \"Unsupported analysis file format\", 409 \"File is already associated "
        "with analysis\", 422 \"Invalid query\" without `name`.",
    )
    def post(self, request, analysis_id):
        params = query_validate(s.AnalysisFileQuerySerializer, request)
        analysis = selectors.analysis_get(user=request.user, analysis_id=analysis_id, right=WRITE, allow_job=True)
        if not is_job(request) and not user_has_permission(request.user, "upload_file"):
            raise InsufficientRights()
        uploaded = request.FILES.get("file")
        if uploaded is None:
            raise BadRequest("Multipart field 'file' is required")
        analysis_file = services.analysis_file_create(
            analysis=analysis, name=params["name"], file_format=params.get("format"), uploaded_file=uploaded
        )
        return Response(
            s.AnalysisFileSerializer(analysis_file).data,
            status=status.HTTP_201_CREATED,
            headers={"Location": f"/api/analyses/{analysis.id}/files/{analysis_file.id}"},
        )


class AnalysisFileView(APIView):
    allow_jobs = True
    content_negotiation_class = FirstRendererNegotiation

    @extend_schema(
        responses={**stored_download(), **errors(400, 403, 404, 503)},
        tags=ANALYSES,
        description="404 \"Uploaded file not found at expected location\" when the file is gone from storage.",
    )
    def get(self, request, analysis_id, file_id):
        analysis = selectors.analysis_get(user=request.user, analysis_id=analysis_id, allow_job=True)
        analysis_file = AnalysisFile.objects.filter(analysis=analysis, id=file_id).first()
        if analysis_file is None:
            raise NotFound()
        # The type is not guessed from a name the client chose: the file is opaque data.
        return stored_response(
            services.analysis_file_key(analysis_file),
            filename=analysis_file.name,
            not_found="Uploaded file not found at expected location",
        )


class AnalysisDocumentView(APIView):
    content_negotiation_class = FirstRendererNegotiation

    @extend_schema(
        responses={
            (200, "text/csv"): OpenApiTypes.STR,
            (200, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"): OpenApiTypes.BINARY,
            **errors(400, 403, 404, 409),
        },
        parameters=[
            OpenApiParameter("analysis_id", str, OpenApiParameter.PATH),
            OpenApiParameter("extension", str, OpenApiParameter.PATH, enum=["csv", "xlsx"]),
        ],
        tags=ANALYSES,
        description="A Pathoscope analysis as CSV or Excel: one row per hit sequence (OTU, Isolate, Sequence, "
        "Length, Weight, Median Depth, Coverage) with names from the OTU at the hit's version; the Excel "
        "file adds an OTU summary sheet. 409 \"Analysis is still running\", 409 \"Not a Pathoscope analysis\".",
    )
    def get(self, request, analysis_id, extension):
        analysis = selectors.analysis_get(user=request.user, analysis_id=analysis_id)
        if analysis.workflow != Workflow.PATHOSCOPE_BOWTIE:
            raise Conflict("Not a Pathoscope analysis")
        if not analysis.ready:
            raise Conflict("Analysis is still running")
        rows = export.pathoscope_rows(analysis.results)
        if extension == "csv":
            response = StreamingHttpResponse(export.csv_lines(rows), content_type="text/csv; charset=utf-8")
            response["Content-Disposition"] = f'attachment; filename="{analysis.id}.csv"'
            return response
        handle = tempfile.NamedTemporaryFile(suffix=".xlsx", delete=False)
        try:
            handle.close()
            export.xlsx_write(rows, handle.name, sample_name=analysis.sample.name)
            stream = open(handle.name, "rb")
        finally:
            # The open stream keeps the data readable; the name is gone at once.
            os.unlink(handle.name)
        return FileResponse(
            stream,
            as_attachment=True,
            filename=f"{analysis.id}.xlsx",
            content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        )


class AnalysisBlastView(APIView):
    @extend_schema(
        request=None,
        responses=responses({200: s.BlastSerializer}, 400, 403, 404, 409, 503),
        tags=ANALYSES,
        description="Needs the write right on the sample. BLASTs the NuVs contig whose `index` is "
        "`sequence_index` (a BLAST of it before is replaced); the search runs in the background and its "
        "result appears under the contig in the analysis document. `rid` is null until NCBI has accepted "
        "the search (ncbi backend). 404 \"Analysis not found\", 404 \"Sequence not found\", "
        "409 \"Not a NuVs analysis\", 409 \"Analysis is still running\"; 503 \"Task queue unavailable\".",
    )
    def put(self, request, analysis_id, sequence_index):
        analysis = selectors.analysis_get(
            user=request.user, analysis_id=analysis_id, right=WRITE, not_found="Analysis not found"
        )
        blast = services.blast_create(analysis=analysis, sequence_index=sequence_index)
        # Run in-process, the search may already have moved on by now.
        blast = NuVsBlast.objects.filter(id=blast.id).first() or blast
        return Response(s.BlastSerializer(blast).data)
