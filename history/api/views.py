"""History lists, change detail and revert. Reads come from history.selectors as plain dicts;
revert is history.revert's."""

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from history import selectors
from history.api import serializers as s
from history.revert import change_revert
from virtool_site.api.schema import responses
from virtool_site.api.views import PagedListView


# Read answers are plain dicts from history.selectors, spelled as the serializers named in
# @extend_schema (which document them) would spell them; test_read_bodies pins the bytes.


class HistoryView(PagedListView):
    serializer_class = s.ChangeSerializer

    @extend_schema(responses=responses({200: s.ChangeSerializer(many=True)}, 422), tags=["history"])
    def get(self, request):
        """Every change the user may see, newest first."""
        return Response(selectors.history_page(request=request))


class ChangeView(APIView):
    @extend_schema(responses=responses({200: s.ChangeDetailSerializer}, 404), tags=["history"])
    def get(self, request, change_id):
        """One change, with its diff."""
        return Response(selectors.change_detail(user=request.user, change_id=change_id))

    @extend_schema(responses=responses({204: None}, 403, 404, 409), tags=["history"])
    def delete(self, request, change_id):
        """Revert the change and every later change of its OTU (the `modify_otu` right)."""
        change_revert(user=request.user, change_id=change_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ReferenceHistoryView(PagedListView):
    serializer_class = s.ChangeSerializer

    @extend_schema(
        parameters=[OpenApiParameter("unbuilt", str, enum=["true", "false"], description="Only (un)built changes")],
        responses=responses({200: s.ChangeSerializer(many=True)}, 404, 422),
        tags=["history"],
    )
    def get(self, request, ref_id):
        """The reference's changes, newest first."""
        return Response(selectors.reference_history_page(request=request, reference_id=ref_id))


class OTUHistoryView(APIView):
    @extend_schema(responses=responses({200: s.ChangeSerializer(many=True)}, 404), tags=["history"])
    def get(self, request, otu_id):
        """The OTU's changes, newest version first (removed OTUs keep their history)."""
        return Response(selectors.otu_history(user=request.user, otu_id=otu_id))
