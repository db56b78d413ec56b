"""What `OPTIONS` answers on every API route: the view's name, description, and the media
types it renders and parses (DRF's `SimpleMetadata` without its `actions`). `Allow` lists the
methods.

DRF's `SimpleMetadata` also describes the body each `POST`/`PUT` would take, by calling the
view's `get_serializer()` (and `get_object()` for `PUT`) on a copy of the request. Views here
read their bodies with request serializers named in `@extend_schema(request=...)`, not with
`serializer_class` (a view's response serializer, or none at all): `OPTIONS /api/groups`
failed with an AssertionError (500) because `GroupsView` has no `serializer_class`, and other
views described their response serializer as their input. The request bodies are described,
exactly, by the OpenAPI document at `/api/schema/`; `OPTIONS` reads neither the body nor any
object, so no body (JSON, malformed or absent) can make it fail.

The description is data, rendered as the view renders data, except by a renderer that only
renders a template (`OPTIONS /api/docs/`, Swagger UI's page, failed for want of one): JSON then.
"""

from rest_framework.metadata import BaseMetadata
from rest_framework.renderers import TemplateHTMLRenderer

from virtool_site.api.renderers import OrjsonRenderer


class VirtoolMetadata(BaseMetadata):
    def determine_metadata(self, request, view):
        if isinstance(getattr(request, "accepted_renderer", None), TemplateHTMLRenderer):
            request.accepted_renderer, request.accepted_media_type = OrjsonRenderer(), OrjsonRenderer.media_type
        return {
            "name": view.get_view_name(),
            "description": view.get_view_description(),
            "renders": [renderer.media_type for renderer in view.renderer_classes],
            "parses": [parser.media_type for parser in view.parser_classes],
        }
