"""`<segment:name>`: a path segment, as Django's `str` converter, but never holding a NUL.

PostgreSQL refuses NUL in a query, so an id with one can name nothing stored: such a URL
matches no route and is answered 404 before any view or query runs. Imported by every API
URLconf (registration happens once, on first import).
"""

from django.urls import register_converter
from django.urls.converters import StringConverter


class SegmentConverter(StringConverter):
    regex = r"[^/\x00]+"


register_converter(SegmentConverter, "segment")
