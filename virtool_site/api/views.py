from django.contrib.auth.models import Group
from django.http import FileResponse
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
from virtool_site.api.schema import errors, responses
from virtool_site.errors import BadRequest, NotFound
from virtool_site.models import ApiKey, Job, Process, Upload, User


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
        keys = ApiKey.objects.filter(user=request.user, revoked_at__isnull=True).order_by("-created_at")
        return Response(s.ApiKeySerializer(keys, many=True).data)

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

    def get_queryset(self):
        return selectors.users_list()

    @extend_schema(responses=responses({200: s.UserSerializer(many=True)}, 403, 422), tags=["users"])
    def get(self, request):
        return self.list_response(self.get_queryset())

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
        return Response(s.UserSerializer(self._user(user_id)).data)

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

    def get_queryset(self):
        return Group.objects.order_by("name").select_related("virtool_permissions").prefetch_related("user_set")

    @extend_schema(responses=responses({200: s.GroupSerializer(many=True)}, 403), tags=["groups"])
    def get(self, request):
        return Response(s.GroupSerializer(self.get_queryset(), many=True).data)

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
        return Response(s.GroupSerializer(self._group(group_id)).data)

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
        processes = Process.objects.order_by("-created_at")
        if not request.user.is_superuser:
            processes = processes.filter(user=request.user)
        return Response(s.ProcessSerializer(processes[:200], many=True).data)


class ProcessView(APIView):
    @extend_schema(responses=responses({200: s.ProcessSerializer}, 404), tags=["processes"])
    def get(self, request, process_id):
        processes = Process.objects.all()
        if not request.user.is_superuser:
            processes = processes.filter(user=request.user)
        return Response(s.ProcessSerializer(get_object_or_404(processes, id=process_id)).data)


class JobsView(PagedListView):
    serializer_class = s.JobSerializer

    def get_queryset(self):
        jobs = Job.objects.select_related("user").order_by("-created_at")
        if not self.request.user.is_superuser:
            jobs = jobs.filter(user=self.request.user)
        return jobs

    @extend_schema(responses=responses({200: s.JobSerializer(many=True)}, 422), tags=["jobs"])
    def get(self, request):
        return self.list_response(self.get_queryset())


class JobView(APIView):
    allow_jobs = True

    @extend_schema(responses=responses({200: s.JobSerializer}, 403, 404), tags=["jobs"])
    def get(self, request, job_id):
        if getattr(request.user, "is_job", False):
            if request.user.job.id != job_id:
                raise NotFound()
            jobs = Job.objects.all()
        else:
            jobs = Job.objects.select_related("user")
            if not request.user.is_superuser:
                jobs = jobs.filter(user=request.user)
        return Response(s.JobSerializer(get_object_or_404(jobs, id=job_id)).data)


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
        return self.list_response(selectors.uploads_list(upload_type=params.get("type")))

    @extend_schema(
        parameters=[
            OpenApiParameter("name", str, required=True, pattern=FILE_NAME_PATTERN, description="The file's name"),
            OpenApiParameter("type", str, enum=["reference", "reads", "hmm", "subtraction"]),
        ],
        request={"multipart/form-data": {"type": "object", "properties": {"file": {"type": "string", "format": "binary"}}, "required": ["file"]}},
        responses=responses({201: s.UploadSerializer}, 400, 403, 413, 415, 422),
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

    @extend_schema(responses={(200, "application/octet-stream"): bytes, **errors(404)}, tags=["uploads"])
    def get(self, request, upload_id):
        upload = get_object_or_404(Upload, id=upload_id)
        path = services.upload_path(upload)
        if not path.exists():
            raise NotFound("Uploaded file not found at expected location")
        # The type is not guessed from a name the client chose: the file is opaque data.
        return FileResponse(
            open(path, "rb"), as_attachment=True, filename=upload.name, content_type="application/octet-stream"
        )

    @extend_schema(responses=responses({204: None}, 403, 404), tags=["uploads"])
    def delete(self, request, upload_id):
        services.upload_remove(upload_id=upload_id)
        return Response(status=status.HTTP_204_NO_CONTENT)
