from django.urls import path, re_path

from analyses.api import views
from virtool_site.api import converters  # noqa: F401 (registers <segment:...>)

urlpatterns = [
    path("samples", views.SamplesView.as_view(), name="samples"),
    path("samples/<segment:sample_id>", views.SampleView.as_view(), name="sample"),
    path("samples/<segment:sample_id>/analyses", views.SampleAnalysesView.as_view(), name="sample-analyses"),
    re_path(
        r"^analyses/document/(?P<analysis_id>[^/.\x00]+)\.(?P<extension>csv|xlsx)$",
        views.AnalysisDocumentView.as_view(),
        name="analysis-document",
    ),
    path("analyses/<segment:analysis_id>", views.AnalysisView.as_view(), name="analysis"),
    path("analyses/<segment:analysis_id>/files", views.AnalysisFilesView.as_view(), name="analysis-files"),
    path("analyses/<segment:analysis_id>/files/<int:file_id>", views.AnalysisFileView.as_view(), name="analysis-file"),
    path(
        "analyses/<segment:analysis_id>/<int:sequence_index>/blast",
        views.AnalysisBlastView.as_view(),
        name="analysis-blast",
    ),
]
