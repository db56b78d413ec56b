"""URLconf of the load benchmark only (bench/api_load.py sets ROOT_URLCONF=bench.load_urls).

The site's URLs, plus two reference points on the same server:
- `/bench/ceiling`: a trivial Django JSON view through the same middleware, touching neither
  DRF nor the database: the ceiling the API endpoints are compared with;
- `/bench/drf`: a trivial DRF view with the API's default authentication (the API key's one
  query) and permission: what every API request pays before its own work;
- `/bench/floor/NAME?url=URL`: the raw-SQL floor of the endpoint URL (bench/floors.py, bench/floors_brapi.py): its
  page or document from one psycopg2 query serialized with orjson, served as the API serves
  (a DRF view with the API's authentication and permission), so that it differs from the
  endpoint only by the work of building the answer.
Never part of the deployed site.
"""

if __name__ == "__main__":  # `make bench` runs every bench/*.py; this one is a URLconf, not a benchmark
    raise SystemExit(0)

from django.http import HttpResponse, JsonResponse
from psycopg2.extras import register_default_json
from django.urls import path
from rest_framework.response import Response
from rest_framework.views import APIView

from virtool_site import urls as site_urls


def ceiling(request):
    return JsonResponse({"ok": True})


class AuthenticatedNothing(APIView):
    def get(self, request):
        return Response({"ok": True})


class Floor(APIView):
    def get(self, request, name):
        from django.db import connection

        import floors  # bench/ is on sys.path (bench/api_endpoints.py puts it there)
        import floors_brapi

        connection.ensure_connection()
        with connection.connection.cursor() as cursor:
            # JSON built by SQL is embedded as text, not decoded by psycopg2 (and encoded again).
            register_default_json(cursor, loads=lambda text: text)
            floor = getattr(floors, name, None) or getattr(floors_brapi, name)
            body = floor(cursor, request.GET["url"])
        return HttpResponse(body, content_type="application/json")


urlpatterns = [
    path("bench/ceiling", ceiling),
    path("bench/drf", AuthenticatedNothing.as_view()),
    path("bench/floor/<str:name>", Floor.as_view()),
    *site_urls.urlpatterns,
]

handler400 = site_urls.handler400
handler403 = site_urls.handler403
handler404 = site_urls.handler404
handler500 = site_urls.handler500
