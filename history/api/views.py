from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from history import selectors
from history.api import serializers as s
from history.filtersets import ChangeFilter, ReferenceChangeFilter, filterset_apply
from history.revert import change_revert
from refs.api.cache import reference_answer_key
from refs.permissions import reference_get_visible, references_visible
from virtool_site.api.cache import cached_get
from virtool_site.api.schema import responses
from virtool_site.api.views import PagedListView
from virtool_site.errors import NotFound


def _visible_reference_ids(user):
    return references_visible(user).values("id")


class HistoryView(PagedListView):
    serializer_class = s.ChangeSerializer

    @extend_schema(responses=responses({200: s.ChangeSerializer(many=True)}, 422), tags=["history"])
    def get(self, request):
        """Every change the user may see, newest first."""
        changes = selectors.changes_list(reference_ids=_visible_reference_ids(request.user))
        return self.list_response(filterset_apply(ChangeFilter, request, changes))


class ChangeView(APIView):
    @extend_schema(responses=responses({200: s.ChangeDetailSerializer}, 404), tags=["history"])
    def get(self, request, change_id):
        """One change, with its diff."""
        change = selectors.change_get(change_id=change_id, reference_ids=_visible_reference_ids(request.user))
        if change is None:
            raise NotFound()
        return Response(s.ChangeDetailSerializer(change).data)

    @extend_schema(responses=responses({204: None}, 403, 404, 409), tags=["history"])
    def delete(self, request, change_id):
        """Revert the change and every later change of its OTU (the `modify_otu` right)."""
        change_revert(user=request.user, change_id=change_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ReferenceHistoryView(PagedListView):
    serializer_class = s.ChangeSerializer

    def get_total_count(self):
        return self._total

    @extend_schema(
        parameters=[OpenApiParameter("unbuilt", str, enum=["true", "false"], description="Only (un)built changes")],
        responses=responses({200: s.ChangeSerializer(many=True)}, 404, 422),
        tags=["history"],
    )
    @cached_get(reference_answer_key)
    def get(self, request, ref_id):
        """The reference's changes, newest first."""
        reference = reference_get_visible(user=request.user, reference_id=ref_id)
        changes = selectors.changes_list(reference_ids=[reference.id])
        filtered = filterset_apply(ReferenceChangeFilter, request, changes)
        self._total = changes.count()
        return self.list_response(filtered)


class OTUHistoryView(APIView):
    @extend_schema(responses=responses({200: s.ChangeSerializer(many=True)}, 404), tags=["history"])
    def get(self, request, otu_id):
        """The OTU's changes, newest version first (removed OTUs keep their history)."""
        changes = selectors.otu_changes(otu_id=otu_id, reference_ids=_visible_reference_ids(request.user))
        if not changes:
            raise NotFound()
        return Response(s.ChangeSerializer(changes, many=True).data)
