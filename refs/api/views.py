"""References, their rights, OTUs, isolates and sequences. Thin: services and selectors do
the work; views check visibility (404) and rights (403) before reading the body (422)."""

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from refs import selectors, services
from refs.api import serializers as s
from refs.models import OTU
from refs.otu_versions import otu_reference_visible_check, otu_version_answer
from refs.permissions import job_manifest_version, reference_get_visible, reference_rights_check, references_visible
from virtool_site.api.permissions import RequiresPermission, is_job
from virtool_site.api.schema import responses
from virtool_site.api.serializers import ErrorSerializer, ProcessSerializer
from virtool_site.api.views import PagedListView
from virtool_site.errors import InsufficientRights, NotFound


def _validated(serializer_class, request, **kwargs) -> dict:
    serializer = serializer_class(data=request.data, **kwargs)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def _otu_modify_check(request, otu_id: str) -> None:
    """404 when the OTU is not visible, 403 without `modify_otu` on its reference."""
    reference_id = (
        OTU.objects.filter(id=otu_id, reference__in=references_visible(request.user))
        .values_list("reference_id", flat=True)
        .first()
    )
    if reference_id is None:
        raise NotFound()
    reference_rights_check(user=request.user, reference=reference_id, right="modify_otu")


# Read answers are plain dicts from the selectors, spelled as the response serializers named
# in @extend_schema (which document them) would spell them; test_read_bodies pins the bytes.


def _reference_response(request, reference_id: str, *, code=status.HTTP_200_OK, headers=None) -> Response:
    return Response(selectors.reference_detail(user=request.user, reference_id=reference_id), status=code, headers=headers)


def _otu_response(request, otu_id: str, *, code=status.HTTP_200_OK, headers=None) -> Response:
    return Response(selectors.otu_detail(user=request.user, otu_id=otu_id), status=code, headers=headers)


# References ---------------------------------------------------------------------------------

#: What POST /api/refs refuses with 400 before creating anything, and what it answers 503 to.
_CREATE_400 = OpenApiResponse(
    ErrorSerializer,
    description=(
        'Nothing created: "Malformed request body" (a body that does not parse); `import_from`: '
        f'"{services.UPLOAD_NOT_FOUND}" (no such upload, or its file is gone), '
        f'"{services.UPLOAD_NOT_REFERENCE}" (an upload of another `type`), '
        f'"{services.UPLOAD_NOT_GZIPPED}" (its first bytes are not gzip\'s); '
        '`clone_from`: "Source reference does not exist"; `remote_from`: what GitHub said, e.g. '
        '"Release repository does not exist on GitHub", "The latest release has no reference.json.gz asset". '
        "A file that passes these checks but cannot be imported (truncated, not JSON, not a reference "
        "file, invalid OTUs, too large) fails the import's process with the problems found (GET "
        "/api/processes/{id}), and the reference created for it is removed: it then answers 404."
    ),
)
_CREATE_503 = OpenApiResponse(
    ErrorSerializer,
    description='Nothing created: "Task queue unavailable", "Storage unavailable" (reading the upload) '
    'or "Could not reach GitHub".',
)


class ReferencesView(PagedListView):
    serializer_class = s.ReferenceListSerializer
    search_parameters = ("find",)

    def get_permissions(self):
        if self.request.method == "POST":
            return [RequiresPermission("create_ref")()]
        return super().get_permissions()

    @extend_schema(
        parameters=[OpenApiParameter("find", str, description="Part of the reference name")],
        responses=responses({200: s.ReferenceListSerializer(many=True)}, 422),
        tags=["refs"],
    )
    def get(self, request):
        """References the user may see, newest first."""
        return Response(selectors.references_page(request=request))

    @extend_schema(
        request=s.ReferenceCreateSerializer,
        responses={**responses({201: s.ReferenceSerializer}, 403, 422), 400: _CREATE_400, 503: _CREATE_503},
        tags=["refs"],
    )
    def post(self, request):
        """An empty reference, or one cloned, imported or installed from a remote repository."""
        data = _validated(s.ReferenceCreateSerializer, request)
        common = {
            "user": request.user,
            "name": data["name"],
            "description": data["description"],
            "organism": data["organism"],
            "data_type": data["data_type"],
            "public": data["public"],
        }
        if data.get("clone_from"):
            reference = services.reference_create_clone(source_id=data["clone_from"], **common)
        elif data.get("import_from"):
            reference = services.reference_create_import(upload_id=data["import_from"], **common)
        elif data.get("remote_from"):
            reference = services.reference_create_remote(slug=data["remote_from"], **common)
        else:
            reference = services.reference_create(**common)
        return _reference_response(
            request, reference.id, code=status.HTTP_201_CREATED, headers={"Location": f"/api/refs/{reference.id}"}
        )


class ReferenceView(APIView):
    @extend_schema(responses=responses({200: s.ReferenceSerializer}, 404), tags=["refs"])
    def get(self, request, ref_id):
        return _reference_response(request, ref_id)

    @extend_schema(
        request=s.ReferenceUpdateSerializer,
        responses=responses({200: s.ReferenceSerializer}, 400, 403, 404, 422),
        tags=["refs"],
    )
    def patch(self, request, ref_id):
        """Change the reference's settings (the `modify` right)."""
        reference = reference_get_visible(user=request.user, reference_id=ref_id)
        reference_rights_check(user=request.user, reference=reference, right="modify")
        data = _validated(s.ReferenceUpdateSerializer, request)
        services.reference_edit(user=request.user, reference=reference, **data)
        return _reference_response(request, ref_id)

    @extend_schema(responses=responses({202: ProcessSerializer}, 403, 404, 409), tags=["refs"])
    def delete(self, request, ref_id):
        """Remove the reference at once; a process deletes its OTUs, history and indexes."""
        reference = reference_get_visible(user=request.user, reference_id=ref_id)
        reference_rights_check(user=request.user, reference=reference, right="remove")
        process = services.reference_delete(user=request.user, reference=reference)
        return Response(
            ProcessSerializer(process).data,
            status=status.HTTP_202_ACCEPTED,
            headers={"Content-Location": f"/api/processes/{process.id}"},
        )


# Reference rights ---------------------------------------------------------------------------


class _MembersView(APIView):
    kind = "user"

    @property
    def entry_serializer(self):
        return s.ReferenceUserSerializer if self.kind == "user" else s.ReferenceGroupSerializer

    def _list(self, request, ref_id):
        return Response(selectors.reference_members(user=request.user, reference_id=ref_id, kind=self.kind))

    def _add(self, request, ref_id):
        reference = reference_get_visible(user=request.user, reference_id=ref_id)
        reference_rights_check(user=request.user, reference=reference, right="modify")
        if self.kind == "user":
            data = _validated(s.ReferenceUserAddSerializer, request)
            member_id = data.pop("user_id")
            entry = services.reference_user_add(user=request.user, reference=reference, user_id=member_id, rights=data)
        else:
            data = _validated(s.ReferenceGroupAddSerializer, request)
            member_id = data.pop("group_id")
            entry = services.reference_group_add(
                user=request.user, reference=reference, group_id=member_id, rights=data
            )
        return Response(
            self.entry_serializer(entry).data,
            status=status.HTTP_201_CREATED,
            headers={"Location": f"/api/refs/{reference.id}/{self.kind}s/{member_id}"},
        )


class _MemberView(_MembersView):
    def _edit(self, request, ref_id, member_id):
        reference = reference_get_visible(user=request.user, reference_id=ref_id)
        reference_rights_check(user=request.user, reference=reference, right="modify")
        rights = _validated(s.RightsInputSerializer, request)
        edit = services.reference_user_edit if self.kind == "user" else services.reference_group_edit
        entry = edit(user=request.user, reference=reference, rights=rights, **{f"{self.kind}_id": member_id})
        return Response(self.entry_serializer(entry).data)

    def _remove(self, request, ref_id, member_id):
        reference = reference_get_visible(user=request.user, reference_id=ref_id)
        remove = services.reference_user_remove if self.kind == "user" else services.reference_group_remove
        remove(user=request.user, reference=reference, **{f"{self.kind}_id": member_id})
        return Response(status=status.HTTP_204_NO_CONTENT)


class ReferenceUsersView(_MembersView):
    kind = "user"

    @extend_schema(responses=responses({200: s.ReferenceUserSerializer(many=True)}, 404), tags=["refs"])
    def get(self, request, ref_id):
        return self._list(request, ref_id)

    @extend_schema(
        request=s.ReferenceUserAddSerializer,
        responses=responses({201: s.ReferenceUserSerializer}, 400, 403, 404, 422),
        tags=["refs"],
    )
    def post(self, request, ref_id):
        """Give a user rights on the reference (the `modify` right)."""
        return self._add(request, ref_id)


class ReferenceUserView(_MemberView):
    kind = "user"

    @extend_schema(
        request=s.RightsInputSerializer,
        responses=responses({200: s.ReferenceUserSerializer}, 403, 404, 422),
        tags=["refs"],
    )
    def patch(self, request, ref_id, user_id):
        return self._edit(request, ref_id, user_id)

    @extend_schema(responses=responses({204: None}, 403, 404), tags=["refs"])
    def delete(self, request, ref_id, user_id):
        return self._remove(request, ref_id, user_id)


class ReferenceGroupsView(_MembersView):
    kind = "group"

    @extend_schema(responses=responses({200: s.ReferenceGroupSerializer(many=True)}, 404), tags=["refs"])
    def get(self, request, ref_id):
        return self._list(request, ref_id)

    @extend_schema(
        request=s.ReferenceGroupAddSerializer,
        responses=responses({201: s.ReferenceGroupSerializer}, 400, 403, 404, 422),
        tags=["refs"],
    )
    def post(self, request, ref_id):
        """Give a group rights on the reference (the `modify` right)."""
        return self._add(request, ref_id)


class ReferenceGroupView(_MemberView):
    kind = "group"

    @extend_schema(
        request=s.RightsInputSerializer,
        responses=responses({200: s.ReferenceGroupSerializer}, 403, 404, 422),
        tags=["refs"],
    )
    def patch(self, request, ref_id, group_id):
        return self._edit(request, ref_id, group_id)

    @extend_schema(responses=responses({204: None}, 403, 404), tags=["refs"])
    def delete(self, request, ref_id, group_id):
        return self._remove(request, ref_id, group_id)


# OTUs -----------------------------------------------------------------------------------------


class ReferenceOTUsView(PagedListView):
    serializer_class = s.OTUListItemSerializer
    search_parameters = ("term",)

    @extend_schema(
        parameters=[
            OpenApiParameter("term", str, description="Part of the OTU name or abbreviation"),
            OpenApiParameter("verified", str, enum=["true", "false"]),
        ],
        responses=responses({200: s.OTUListItemSerializer(many=True)}, 404, 422),
        tags=["otus"],
    )
    def get(self, request, ref_id):
        """The reference's OTUs by name."""
        return Response(selectors.otus_page(request=request, reference_id=ref_id))

    @extend_schema(
        request=s.OTUCreateSerializer,
        responses=responses({201: s.OTUSerializer}, 400, 403, 404, 422),
        tags=["otus"],
    )
    def post(self, request, ref_id):
        """A new OTU (the `modify_otu` right)."""
        reference = reference_get_visible(user=request.user, reference_id=ref_id)
        reference_rights_check(user=request.user, reference=reference, right="modify_otu")
        data = _validated(s.OTUCreateSerializer, request)
        otu = services.otu_create(user=request.user, reference=reference, **data)
        return _otu_response(request, otu.id, code=status.HTTP_201_CREATED, headers={"Location": f"/api/otus/{otu.id}"})


class OTUView(APIView):
    @property
    def allow_jobs(self) -> bool:
        """An index build's runner may read the OTUs of its manifest; no job runner writes."""
        return self.request.method in ("GET", "HEAD", "OPTIONS")

    @extend_schema(responses=responses({200: s.OTUSerializer}, 403, 404), tags=["otus"])
    def get(self, request, otu_id):
        """The joined OTU: isolates, sequences, verification issues. An index build's runner
        (job key) may read the OTUs of its index's manifest (403 for others): as they are now;
        GET /api/otus/{otu_id}/{version} gives the manifest's version."""
        if is_job(request):
            job_manifest_version(job=request.user.job, otu_id=otu_id)
            return Response(otu_version_answer(otu_id=otu_id))
        return _otu_response(request, otu_id)

    @extend_schema(
        request=s.OTUUpdateSerializer,
        responses=responses({200: s.OTUSerializer}, 400, 403, 404, 422),
        tags=["otus"],
    )
    def patch(self, request, otu_id):
        """Change name, abbreviation or schema (the `modify_otu` right)."""
        _otu_modify_check(request, otu_id)
        data = _validated(s.OTUUpdateSerializer, request)
        services.otu_edit(user=request.user, otu_id=otu_id, **data)
        return _otu_response(request, otu_id)

    @extend_schema(responses=responses({204: None}, 403, 404), tags=["otus"])
    def delete(self, request, otu_id):
        services.otu_remove(user=request.user, otu_id=otu_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class OTUVersionView(APIView):
    allow_jobs = True

    @extend_schema(
        operation_id="otus_version_retrieve", responses=responses({200: s.OTUSerializer}, 403, 404), tags=["otus"]
    )
    def get(self, request, otu_id, version):
        """The joined OTU as it was at `version`, rebuilt from its history (a removed OTU's
        too); `most_recent_change` is the change that made that version. An index build's
        runner (job key) may read the OTUs of its index's manifest at their manifest versions
        (403 for any other OTU or version)."""
        if is_job(request):
            if job_manifest_version(job=request.user.job, otu_id=otu_id) != version:
                raise InsufficientRights()
        else:
            otu_reference_visible_check(user=request.user, otu_id=otu_id)
        return Response(otu_version_answer(otu_id=otu_id, version=version))


# Isolates -------------------------------------------------------------------------------------


def _isolate_response(request, otu_id, isolate_id, *, code=status.HTTP_200_OK, headers=None) -> Response:
    document = selectors.isolate_detail(user=request.user, otu_id=otu_id, isolate_id=isolate_id)
    return Response(document, status=code, headers=headers)


class IsolatesView(APIView):
    @extend_schema(responses=responses({200: s.IsolateSerializer(many=True)}, 404), tags=["otus"])
    def get(self, request, otu_id):
        return Response(selectors.isolates_list(user=request.user, otu_id=otu_id))

    @extend_schema(
        request=s.IsolateCreateSerializer,
        responses=responses({201: s.IsolateSerializer}, 400, 403, 404, 422),
        tags=["otus"],
    )
    def post(self, request, otu_id):
        """Add an isolate (the first one of an OTU is its default)."""
        _otu_modify_check(request, otu_id)
        data = _validated(s.IsolateCreateSerializer, request)
        isolate = services.isolate_add(user=request.user, otu_id=otu_id, **data)
        return _isolate_response(
            request,
            otu_id,
            isolate.isolate_id,
            code=status.HTTP_201_CREATED,
            headers={"Location": f"/api/otus/{otu_id}/isolates/{isolate.isolate_id}"},
        )


class IsolateView(APIView):
    @extend_schema(responses=responses({200: s.IsolateSerializer}, 404), tags=["otus"])
    def get(self, request, otu_id, isolate_id):
        return _isolate_response(request, otu_id, isolate_id)

    @extend_schema(
        request=s.IsolateUpdateSerializer,
        responses=responses({200: s.IsolateSerializer}, 400, 403, 404, 422),
        tags=["otus"],
    )
    def patch(self, request, otu_id, isolate_id):
        _otu_modify_check(request, otu_id)
        data = _validated(s.IsolateUpdateSerializer, request)
        services.isolate_edit(user=request.user, otu_id=otu_id, isolate_id=isolate_id, **data)
        return _isolate_response(request, otu_id, isolate_id)

    @extend_schema(responses=responses({204: None}, 403, 404), tags=["otus"])
    def delete(self, request, otu_id, isolate_id):
        services.isolate_remove(user=request.user, otu_id=otu_id, isolate_id=isolate_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class IsolateDefaultView(APIView):
    @extend_schema(request=None, responses=responses({200: s.IsolateSerializer}, 403, 404), tags=["otus"])
    def put(self, request, otu_id, isolate_id):
        """Make the isolate the OTU's default."""
        services.isolate_set_default(user=request.user, otu_id=otu_id, isolate_id=isolate_id)
        return _isolate_response(request, otu_id, isolate_id)


# Sequences ------------------------------------------------------------------------------------


def _sequence_response(request, otu_id, isolate_id, sequence_id, *, code=status.HTTP_200_OK, headers=None):
    document = selectors.sequence_detail(
        user=request.user, otu_id=otu_id, isolate_id=isolate_id, sequence_id=sequence_id
    )
    return Response(document, status=code, headers=headers)


class SequencesView(APIView):
    @extend_schema(responses=responses({200: s.SequenceDetailSerializer(many=True)}, 404), tags=["otus"])
    def get(self, request, otu_id, isolate_id):
        return Response(selectors.sequences_list(user=request.user, otu_id=otu_id, isolate_id=isolate_id))

    @extend_schema(
        request=s.SequenceCreateSerializer,
        responses=responses({201: s.SequenceDetailSerializer}, 400, 403, 404, 422),
        tags=["otus"],
    )
    def post(self, request, otu_id, isolate_id):
        """Add a sequence; its segment must be in the OTU's schema (400 "Segment does not exist")."""
        _otu_modify_check(request, otu_id)
        data = _validated(s.SequenceCreateSerializer, request)
        sequence = services.sequence_create(user=request.user, otu_id=otu_id, isolate_id=isolate_id, **data)
        return _sequence_response(
            request,
            otu_id,
            isolate_id,
            sequence.id,
            code=status.HTTP_201_CREATED,
            headers={"Location": f"/api/otus/{otu_id}/isolates/{isolate_id}/sequences/{sequence.id}"},
        )


class SequenceView(APIView):
    @extend_schema(responses=responses({200: s.SequenceDetailSerializer}, 404), tags=["otus"])
    def get(self, request, otu_id, isolate_id, sequence_id):
        return _sequence_response(request, otu_id, isolate_id, sequence_id)

    @extend_schema(
        request=s.SequenceUpdateSerializer,
        responses=responses({200: s.SequenceDetailSerializer}, 400, 403, 404, 422),
        tags=["otus"],
    )
    def patch(self, request, otu_id, isolate_id, sequence_id):
        _otu_modify_check(request, otu_id)
        data = _validated(s.SequenceUpdateSerializer, request)
        services.sequence_edit(
            user=request.user, otu_id=otu_id, isolate_id=isolate_id, sequence_id=sequence_id, **data
        )
        return _sequence_response(request, otu_id, isolate_id, sequence_id)

    @extend_schema(responses=responses({204: None}, 403, 404), tags=["otus"])
    def delete(self, request, otu_id, isolate_id, sequence_id):
        services.sequence_remove(user=request.user, otu_id=otu_id, isolate_id=isolate_id, sequence_id=sequence_id)
        return Response(status=status.HTTP_204_NO_CONTENT)
