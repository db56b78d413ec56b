from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
    path("api/", include("virtool_site.api.urls")),
    path("api/", include("refs.api.urls")),
    path("api/", include("history.api.urls")),
    path("api/", include("indexes.api.urls")),
    path("api/", include("analyses.api.urls")),
    path("brapi/v2/", include("brapi.api.urls")),
    path("refget/", include("brapi.refget.urls")),
]

handler400 = "virtool_site.api.handlers.handler400"
handler403 = "virtool_site.api.handlers.handler403"
handler404 = "virtool_site.api.handlers.handler404"
handler500 = "virtool_site.api.handlers.handler500"
