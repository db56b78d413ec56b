"""Index lists, detail, history, builds and the Job API (file uploads, finalize). Reads come
from indexes.selectors as plain dicts; writes are indexes.services'."""

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from history.api.serializers import ChangeSerializer
from indexes import selectors, services
from indexes.api import serializers as s
from indexes.models import IndexFile
from history.selectors import index_history_page
from refs.selectors import reference_visible_id
from virtool_site.models import Job
from virtool_site.api.mixins import BoundedUploadMixin
from virtool_site.api.pagination import PageQuerySerializer, query_validate
from virtool_site.api.permissions import IsJob
from virtool_site.api.schema import errors, responses, stored_download
from virtool_site.api.views import PagedListView
from virtool_site.errors import BadRequest, NotFound
from virtool_site.storage import stored_response

TAGS = ["indexes"]


def _page_serializer(name: str, document_serializer, *, stats: bool) -> type[serializers.Serializer]:
    """The page envelope with its documents (and, for index lists, the unbuilt figures)."""
    fields = {
        "documents": document_serializer(many=True),
        "total_count": serializers.IntegerField(),
        "found_count": serializers.IntegerField(),
        "page_count": serializers.IntegerField(),
        "per_page": serializers.IntegerField(),
        "page": serializers.IntegerField(),
    }
    if stats:
        fields.update(
            {
                "change_count": serializers.IntegerField(help_text="Unbuilt changes."),
                "modified_otu_count": serializers.IntegerField(help_text="OTUs with unbuilt changes."),
                "modified_kind_count": serializers.IntegerField(help_text="Older name of modified_otu_count."),
                "total_otu_count": serializers.IntegerField(),
            }
        )
    return type(name, (serializers.Serializer,), fields)


IndexPageSerializer = _page_serializer("IndexPage", s.IndexListSerializer, stats=True)
IndexChangePageSerializer = _page_serializer("IndexChangePage", ChangeSerializer, stats=False)

#: `page` (from 1) and `per_page` (1 to PAGE_SIZE_MAX), with the bounds the pagination checks.
PAGE_PARAMETERS = [PageQuerySerializer]


# Read answers are plain dicts from indexes.selectors, spelled as the serializers named in
# @extend_schema (which document them) would spell them; test_read_bodies pins the bytes.


class IndexesView(PagedListView):
    """Indexes of the references the user may see, newest first, with the unbuilt figures."""

    serializer_class = s.IndexListSerializer

    @extend_schema(
        parameters=[
            OpenApiParameter("ready", bool, description="Only ready (true) or unready (false) indexes"),
            *PAGE_PARAMETERS,
        ],
        operation_id="indexes_list",
        responses=responses({200: IndexPageSerializer}, 422),
        tags=TAGS,
    )
    def get(self, request):
        params = query_validate(s.IndexListQuerySerializer, request)
        return Response(selectors.indexes_page(request=request, ready=params.get("ready")))


class ReferenceIndexesView(PagedListView):
    """GET: the indexes of a reference (spec/refs.md Find Indexes). POST: start a build."""

    serializer_class = s.IndexListSerializer

    @extend_schema(
        operation_id="refs_indexes_list",
        parameters=PAGE_PARAMETERS,
        responses=responses({200: IndexPageSerializer}, 404, 422),
        tags=TAGS,
    )
    def get(self, request, ref_id):
        reference_visible_id(user=request.user, reference_id=ref_id)
        return Response(selectors.indexes_page(request=request, reference_id=ref_id))

    @extend_schema(
        operation_id="refs_indexes_create",
        parameters=[
            OpenApiParameter(
                "runner",
                str,
                enum=list(services.RUNNERS),
                description="Who builds the index; may also be given in the body. See the body's `runner`.",
            )
        ],
        request=s.IndexCreateSerializer,
        responses=responses({201: s.IndexCreatedSerializer}, 400, 403, 404, 409, 422, 503),
        tags=TAGS,
    )
    def post(self, request, ref_id):
        if "runner" in request.query_params:
            runner = query_validate(s.IndexCreateQuerySerializer, request)["runner"]
        else:
            body = s.IndexCreateSerializer(data=request.data)
            body.is_valid(raise_exception=True)
            runner = body.validated_data["runner"]
        index, key = services.index_create(user=request.user, reference_id=ref_id, runner=runner)
        document = selectors.index_document(index_id=index.id)
        if document["job"] is not None:
            # Read afresh: run in-process, the build may have moved its job on already.
            job = Job.objects.get(id=document["job"]["id"])
            job.key = key
            document["job"] = s.IndexJobSerializer(job).data
        return Response(
            document,
            status=status.HTTP_201_CREATED,
            headers={"Location": f"/api/indexes/{index.id}"},
        )


class IndexView(APIView):
    """GET: users who see the reference, and the index's own job runner. PATCH: Job API finalize."""

    allow_jobs = True

    def get_permissions(self):
        if self.request.method == "PATCH":
            return [IsJob()]
        return super().get_permissions()

    @extend_schema(responses=responses({200: s.IndexDetailSerializer}, 403, 404), tags=TAGS)
    def get(self, request, index_id):
        return Response(selectors.index_document(user=request.user, index_id=index_id))

    @extend_schema(
        summary="Finalize an index (Job API)",
        description="Marks an index whose files were all uploaded as ready. Only the index's "
        "job runner or an administrator.",
        request=None,
        responses=responses({200: s.IndexDetailSerializer}, 403, 404, 409),
        tags=TAGS,
    )
    def patch(self, request, index_id):
        index = services.index_finalize(index_id=index_id, user=request.user)
        return Response(selectors.index_document(index_id=index.id))


class IndexFilesView(BoundedUploadMixin, APIView):
    """Job API: a runner uploads the files it built (multipart, field `file`)."""

    permission_classes = [IsJob]

    @extend_schema(
        summary="Upload an index file (Job API)",
        parameters=[
            OpenApiParameter(
                "name",
                str,
                required=True,
                enum=list(selectors.INDEX_FILE_TYPES),
                description="Name of the index file (reference.4.bt4 as in Virtool's docs, or reference.4.bt2).",
            )
        ],
        request={
            "multipart/form-data": {
                "type": "object",
                "properties": {"file": {"type": "string", "format": "binary"}},
                "required": ["file"],
            }
        },
        responses=responses({201: s.IndexFileUploadedSerializer}, 400, 403, 404, 409, 413, 422, 503),
        tags=TAGS,
    )
    def post(self, request, index_id):
        name = query_validate(s.IndexFileUploadQuerySerializer, request)["name"]
        if name not in selectors.INDEX_FILE_TYPES:
            raise BadRequest("Unsupported index file name")
        # Refuse before the body is read: a wrong job or index costs no upload.
        selectors.index_for_job_api(user=request.user, index_id=index_id)
        uploaded = request.FILES.get("file")
        if uploaded is None:
            raise BadRequest("Multipart field 'file' is required")
        index_file = services.index_file_upload(
            user=request.user, index_id=index_id, name=name, uploaded_file=uploaded
        )
        return Response(
            s.IndexFileUploadedSerializer(index_file).data,
            status=status.HTTP_201_CREATED,
            headers={"Location": s.download_url(index_id, name)},
        )


class IndexFileView(APIView):
    """Download an index file, streamed from storage (or redirected to it, see
    virtool_site.storage.stored_response)."""

    allow_jobs = True

    @extend_schema(responses={**stored_download(), **errors(403, 404, 503)}, tags=TAGS)
    def get(self, request, index_id, name):
        index = selectors.index_for_request(user=request.user, index_id=index_id)
        index_file = IndexFile.objects.filter(index=index, name=name).first()
        if index_file is None:
            raise NotFound()
        return stored_response(
            selectors.index_file_key(index, index_file.name),
            filename=index_file.name,
            not_found="Index file not found at expected location",
        )


class IndexHistoryView(PagedListView):
    """The changes built into an index, by OTU name (documents as in the history lists)."""

    serializer_class = ChangeSerializer

    @extend_schema(
        parameters=PAGE_PARAMETERS,
        operation_id="indexes_history_list",
        responses=responses({200: IndexChangePageSerializer}, 404, 422),
        tags=TAGS,
    )
    def get(self, request, index_id):
        selectors.index_visible_check(user=request.user, index_id=index_id)
        return Response(index_history_page(request=request, index_id=index_id))
