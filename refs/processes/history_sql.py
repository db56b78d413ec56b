"""How the Change of each OTU a process creates is described and written.

`CreationHistory` names the Change (`method_name`, "{verb} {label} from {origin}"); on
PostgreSQL its `insert` has the database build each new OTU's document from the rows just
written (`OTU_DOCUMENT_SQL`, the same document as refs.documents.otu_document), so sequences
never travel through Python twice. Elsewhere its `change` builds the Change in Python.
"""

from collections.abc import Callable
from dataclasses import dataclass

from django.db import connection
from django.utils import timezone

from history.models import Change
from history.services import change_build
from refs.models import OTU
from refs.processes.common import TransferError
from refs.processes.rows import otu_label
from virtool_site.bulk_copy import lz4_toast_compression

_REMOTE_SQL = "CASE WHEN {alias}.remote_id IS NULL THEN '{{}}'::jsonb ELSE jsonb_build_object('remote', jsonb_build_object('id', {alias}.remote_id)) END"

#: refs.documents.otu_document, built by the database from the OTU `o` and its rows.
OTU_DOCUMENT_SQL = f"""
(jsonb_build_object(
    '_id', o.id, 'name', o.name, 'abbreviation', o.abbreviation, 'schema', o.schema, 'taxid', o.taxid,
    'version', o.version, 'verified', o.verified, 'imported', o.imported,
    'last_indexed_version', o.last_indexed_version, 'reference', jsonb_build_object('id', o.reference_id),
    'isolates', COALESCE((
        SELECT jsonb_agg(jsonb_build_object(
            'id', i.isolate_id, 'source_type', i.source_type, 'source_name', i.source_name, 'default', i."default",
            'sequences', COALESCE((
                SELECT jsonb_agg(jsonb_build_object(
                    '_id', s.id, 'accession', s.accession, 'definition', s.definition, 'host', s.host,
                    'segment', s.segment, 'sequence', s.sequence) || {_REMOTE_SQL.format(alias="s")}
                    ORDER BY s.position)
                FROM refs_sequence s WHERE s.isolate_id = i.id), '[]'::jsonb)
        ) ORDER BY i.position)
        FROM refs_isolate i WHERE i.otu_id = o.id), '[]'::jsonb)
) || {_REMOTE_SQL.format(alias="o")})"""

_LABEL_SQL = "o.name || CASE WHEN o.abbreviation <> '' THEN ' (' || o.abbreviation || ')' ELSE '' END"


@dataclass
class CreationHistory:
    """How the Change of each new OTU is described: `method_name` and a description made of
    `verb`, the OTU's label and, when given, " from {origin}" (Python and SQL agree)."""

    method_name: str
    verb: str
    origin: str | None = None
    user: object = None
    created_at: object = None

    def description(self, document: dict) -> str:
        text = f"{self.verb} {otu_label(document)}"
        return f"{text} from {self.origin}" if self.origin else text

    def change(self, document: dict) -> Change:
        return change_build(
            method_name=self.method_name, description=self.description(document), old=None, new=document,
            user=self.user, created_at=self.created_at,
        )

    def insert(self, cursor, otu_ids: list[str], progress: Callable[[float], None] | None = None, chunk: int = 250):
        """INSERT the Changes of these (just written) OTUs, documents built in SQL."""
        quote = connection.ops.quote_name
        description = f"%(verb)s || ' ' || {_LABEL_SQL}" + (" || ' from ' || %(origin)s" if self.origin else "")
        expressions = {
            "id": "o.id || '.' || o.version",
            "method_name": "%(method)s",
            "description": description,
            "otu_id": "o.id",
            "otu_name": "o.name",
            "otu_version": "o.version",
            "reference_id": "o.reference_id",
            "user_id": "%(user)s",
            "index_id": "NULL",
            "diff": OTU_DOCUMENT_SQL,
            "created_at": "%(now)s",
        }
        columns = [f.column for f in Change._meta.concrete_fields]
        missing = set(columns) - set(expressions)
        if missing:
            raise TransferError(f"Cannot write history: unknown Change columns {sorted(missing)}")
        sql = (
            f"INSERT INTO {quote(Change._meta.db_table)} ({', '.join(quote(c) for c in columns)}) "
            f"SELECT {', '.join(expressions[c] for c in columns)} FROM {quote(OTU._meta.db_table)} o "
            f"WHERE o.id = ANY(%(ids)s)"
        )
        params = {
            "verb": self.verb, "origin": self.origin, "method": self.method_name,
            "user": getattr(self.user, "pk", None), "now": self.created_at or timezone.now(),
        }
        # Each new OTU's Change holds its whole document: an import stores every sequence twice.
        with lz4_toast_compression(cursor):
            for start in range(0, len(otu_ids), chunk):
                cursor.execute(sql, {**params, "ids": otu_ids[start : start + chunk]})
                if progress:
                    progress(min(start + chunk, len(otu_ids)) / len(otu_ids))
