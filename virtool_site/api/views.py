from django.contrib.auth.models import Group
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.generics import GenericAPIView
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from virtool_site import selectors, services
from virtool_site.api import serializers as s
from virtool_site.api.mixins import BoundedUploadMixin
from virtool_site.files import FILE_NAME_PATTERN
from virtool_site.api.pagination import VirtoolPagination, query_validate
from virtool_site.api.permissions import IsAdministrator, RequiresPermission
from virtool_site.api.schema import errors, responses, stored_download
from virtool_site.errors import BadRequest
from virtool_site.models import ApiKey, Upload
from virtool_site.reads import api_time
from virtool_site.storage import stored_response


class PagedListView(GenericAPIView):
    """A list in Virtool's page envelope; subclasses give `get_queryset` and `serializer_class`."""

    pagination_class = VirtoolPagination

    def list_response(self, queryset, **serializer_kwargs):
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(self.get_serializer(page, many=True, **serializer_kwargs).data)


# Health ------------------------------------------------------------------------------------


class HealthView(APIView):
    permission_classes = [AllowAny]
    authentication_classes = []

    @extend_schema(responses={200: s.HealthSerializer, 503: s.HealthSerializer}, tags=["health"])
    def get(self, request):
        report = selectors.health_check()
        code = status.HTTP_200_OK if report["status"] == "ok" else status.HTTP_503_SERVICE_UNAVAILABLE
        return Response(report, status=code)


# Account -----------------------------------------------------------------------------------


class AccountView(APIView):
    @extend_schema(responses=responses({200: s.AccountSerializer}), tags=["account"])
    def get(self, request):
        return Response(s.AccountSerializer(request.user).data)


class AccountKeysView(GenericAPIView):
    serializer_class = s.ApiKeySerializer
    pagination_class = None

    @extend_schema(responses=responses({200: s.ApiKeySerializer(many=True)}), tags=["account"])
    def get(self, request):
        # Plain values, spelled as ApiKeySerializer (which documents them) spells them.
        keys = (
            ApiKey.objects.filter(user=request.user, revoked_at__isnull=True)
            .order_by("-created_at")
            .values_list("id", "name", "prefix", "created_at", "last_used_at")
        )
        return Response(
            [
                {"id": key_id, "name": name, "prefix": prefix, "created_at": api_time(created_at), "last_used_at": api_time(used_at)}
                for key_id, name, prefix, created_at, used_at in keys
            ]
        )

    @extend_schema(
        request=s.ApiKeyCreateSerializer,
        responses=responses({201: s.ApiKeyCreatedSerializer}, 422),
        tags=["account"],
    )
    def post(self, request):
        data = s.ApiKeyCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        api_key, secret = services.api_key_create(user=request.user, name=data.validated_data["name"])
        api_key.key = secret
        return Response(
            s.ApiKeyCreatedSerializer(api_key).data,
            status=status.HTTP_201_CREATED,
            headers={"Location": f"/api/account/keys/{api_key.id}"},
        )


class AccountKeyView(APIView):
    @extend_schema(responses=responses({204: None}, 404), tags=["account"])
    def delete(self, request, key_id):
        services.api_key_revoke(user=request.user, key_id=key_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


# Users and groups (administrators) ---------------------------------------------------------


class UsersView(PagedListView):
    permission_classes = [IsAdministrator]
    serializer_class = s.UserSerializer

    @extend_schema(responses=responses({200: s.UserSerializer(many=True)}, 403, 422), tags=["users"])
    def get(self, request):
        return Response(selectors.users_page(request=request))

    @extend_schema(request=s.UserCreateSerializer, responses=responses({201: s.UserSerializer}, 403, 422), tags=["users"])
    def post(self, request):
        data = s.UserCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        user = services.user_create(
            username=values["handle"],
            password=values["password"],
            administrator=values["administrator"],
            permissions=values.get("permissions"),
        )
        return Response(
            s.UserSerializer(user).data, status=status.HTTP_201_CREATED, headers={"Location": f"/api/users/{user.username}"}
        )


class UserView(APIView):
    permission_classes = [IsAdministrator]

    def _user(self, user_id):
        return get_object_or_404(selectors.users_list(), username=user_id)

    @extend_schema(responses=responses({200: s.UserSerializer}, 403, 404), tags=["users"])
    def get(self, request, user_id):
        return Response(selectors.user_document(username=user_id))

    @extend_schema(request=s.UserUpdateSerializer, responses=responses({200: s.UserSerializer}, 403, 404, 422), tags=["users"])
    def patch(self, request, user_id):
        user = self._user(user_id)
        data = s.UserUpdateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        if user == request.user and data.validated_data.get("administrator") is False:
            raise BadRequest("Cannot remove own administrative role")
        services.user_update(user=user, data=data.validated_data)
        return Response(s.UserSerializer(self._user(user_id)).data)


class GroupsView(GenericAPIView):
    permission_classes = [IsAdministrator]
    pagination_class = None

    @extend_schema(responses=responses({200: s.GroupSerializer(many=True)}, 403), tags=["groups"])
    def get(self, request):
        return Response(selectors.groups_list())

    @extend_schema(request=s.GroupCreateSerializer, responses=responses({201: s.GroupSerializer}, 403, 422), tags=["groups"])
    def post(self, request):
        data = s.GroupCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        group = services.group_create(name=data.validated_data["name"])
        return Response(s.GroupSerializer(group).data, status=status.HTTP_201_CREATED, headers={"Location": f"/api/groups/{group.name}"})


class GroupView(APIView):
    permission_classes = [IsAdministrator]

    def _group(self, group_id):
        return get_object_or_404(Group.objects.select_related("virtool_permissions"), name=group_id)

    @extend_schema(responses=responses({200: s.GroupSerializer}, 403, 404), tags=["groups"])
    def get(self, request, group_id):
        return Response(selectors.group_document(name=group_id))

    @extend_schema(request=s.GroupUpdateSerializer, responses=responses({200: s.GroupSerializer}, 403, 404, 422), tags=["groups"])
    def patch(self, request, group_id):
        group = self._group(group_id)
        data = s.GroupUpdateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.group_update_permissions(group=group, permissions=data.validated_data["permissions"])
        return Response(s.GroupSerializer(self._group(group_id)).data)

    @extend_schema(responses=responses({204: None}, 403, 404), tags=["groups"])
    def delete(self, request, group_id):
        self._group(group_id).delete()
        return Response(status=status.HTTP_204_NO_CONTENT)


# Processes and jobs ------------------------------------------------------------------------


class ProcessesView(GenericAPIView):
    serializer_class = s.ProcessSerializer
    pagination_class = None

    @extend_schema(responses=responses({200: s.ProcessSerializer(many=True)}), tags=["processes"])
    def get(self, request):
        return Response(selectors.processes_list(user=request.user, limit=200))


class ProcessView(APIView):
    @extend_schema(responses=responses({200: s.ProcessSerializer}, 404), tags=["processes"])
    def get(self, request, process_id):
        return Response(selectors.process_document(user=request.user, process_id=process_id))


class JobsView(PagedListView):
    serializer_class = s.JobSerializer

    @extend_schema(responses=responses({200: s.JobSerializer(many=True)}, 422), tags=["jobs"])
    def get(self, request):
        return Response(selectors.jobs_page(request=request))


class JobView(APIView):
    allow_jobs = True

    @extend_schema(responses=responses({200: s.JobSerializer}, 403, 404), tags=["jobs"])
    def get(self, request, job_id):
        return Response(selectors.job_document(user=request.user, job_id=job_id))


class JobCancelView(APIView):
    permission_classes = [RequiresPermission("cancel_job")]

    @extend_schema(request=None, responses=responses({200: s.JobSerializer}, 403, 404, 409), tags=["jobs"])
    def put(self, request, job_id):
        job = services.job_cancel(job_id=job_id)
        return Response(s.JobSerializer(job).data)


# Uploads -----------------------------------------------------------------------------------


class UploadsView(BoundedUploadMixin, PagedListView):
    serializer_class = s.UploadSerializer

    def get_permissions(self):
        if self.request.method == "POST":
            return [RequiresPermission("upload_file")()]
        return super().get_permissions()

    @extend_schema(
        parameters=[OpenApiParameter("type", str, enum=["reference", "reads", "hmm", "subtraction"])],
        responses=responses({200: s.UploadSerializer(many=True)}, 422),
        tags=["uploads"],
    )
    def get(self, request):
        params = query_validate(s.UploadListQuerySerializer, request)
        return Response(selectors.uploads_page(request=request, upload_type=params.get("type")))

    @extend_schema(
        parameters=[
            OpenApiParameter("name", str, required=True, pattern=FILE_NAME_PATTERN, description="The file's name"),
            OpenApiParameter("type", str, enum=["reference", "reads", "hmm", "subtraction"]),
        ],
        request={"multipart/form-data": {"type": "object", "properties": {"file": {"type": "string", "format": "binary"}}, "required": ["file"]}},
        responses=responses({201: s.UploadSerializer}, 400, 403, 413, 415, 422, 503),
        tags=["uploads"],
    )
    def post(self, request):
        params = query_validate(s.UploadQuerySerializer, request)
        uploaded = request.FILES.get("file")
        if uploaded is None:
            raise BadRequest("Multipart field 'file' is required")
        upload = services.upload_create(
            user=request.user, name=params["name"], upload_type=params["type"], uploaded_file=uploaded
        )
        return Response(s.UploadSerializer(upload).data, status=status.HTTP_201_CREATED, headers={"Location": f"/api/uploads/{upload.id}"})


class UploadView(APIView):
    def get_permissions(self):
        if self.request.method == "DELETE":
            return [RequiresPermission("remove_file")()]
        return super().get_permissions()

    @extend_schema(responses={**stored_download(), **errors(404, 503)}, tags=["uploads"])
    def get(self, request, upload_id):
        upload = get_object_or_404(Upload, id=upload_id)
        # The type is not guessed from a name the client chose: the file is opaque data.
        return stored_response(
            services.upload_key(upload), filename=upload.name, not_found="Uploaded file not found at expected location"
        )

    @extend_schema(
        responses=responses({204: None}, 403, 404, 409, 503),
        tags=["uploads"],
        description="409 \"Upload is in use by an import\" until the import that reserved it ends.",
    )
    def delete(self, request, upload_id):
        services.upload_remove(upload_id=upload_id)
        return Response(status=status.HTTP_204_NO_CONTENT)
