"""Raw-SQL floors of the API's list and detail endpoints (bench/api_endpoints.py); BrAPI's are in
bench/floors_brapi.py.

Each floor answers the same page or document as its endpoint, as cheaply as Python can: one
psycopg2 query (joins, counts, nested lists and times spelled as the API spells them, all in
SQL), its values into dicts, `orjson.dumps`. JSON columns and nested lists built by SQL are
embedded as they come (`orjson.Fragment`: PostgreSQL's spacing, the same values). Left out is
only what an endpoint does besides reading: visibility, validation, errors, and what the data
the benchmark holds never needs (search criteria, which it saves empty). Every run of
bench/api_endpoints.py holds each floor to its endpoint: the same JSON values for the same URLs.

Each takes a psycopg2 cursor and the endpoint's URL (for its ids and page) and returns the
body. Served at /bench/floor/NAME?url=... (bench/load_urls.py) the way the API serves, with
its authentication: the floor differs from its endpoint only by the work of building the answer.
"""

if __name__ == "__main__":  # `make bench` runs every bench/*.py; this one is a library
    raise SystemExit(0)

import orjson

from _floor_sql import _envelope, _fetch, _json, _page, _paged, _parts, _ref, _time  # noqa: F401

PERMISSIONS = ("create_ref", "create_sample", "upload_file", "remove_file", "cancel_job")

# Site-wide --------------------------------------------------------------------------------------


def account_keys(cursor, url):
    found = _fetch(cursor, f"""SELECT k.id, k.name, k.prefix, {_time("k.created_at")}, {_time("k.last_used_at")}
        FROM virtool_site_apikey k INNER JOIN virtool_site_user u ON u.id = k.user_id
        WHERE u.username = 'bench' AND k.revoked_at IS NULL ORDER BY k.created_at DESC""")
    keys = ("id", "name", "prefix", "created_at", "last_used_at")
    return orjson.dumps([dict(zip(keys, values)) for values in found])


_USER = f"""SELECT u.username, u.is_superuser, u.is_active,
    {", ".join(f"u.{name} OR COALESCE((SELECT bool_or(p.{name}) FROM virtool_site_user_groups ug "
               f"INNER JOIN virtool_site_grouppermissions p ON p.group_id = ug.group_id WHERE ug.user_id = u.id), false)"
               for name in PERMISSIONS)},
    (SELECT json_agg(g.name ORDER BY g.name) FROM virtool_site_user_groups ug INNER JOIN auth_group g ON g.id = ug.group_id
     WHERE ug.user_id = u.id), {_time("u.date_joined")}{{extra}} FROM virtool_site_user u"""


def _user(values) -> dict:
    username, superuser, active, *flags, groups, created_at = values
    return {
        "id": username, "handle": username, "administrator": superuser, "active": active,
        "permissions": dict(zip(PERMISSIONS, (True,) * 5 if superuser else flags)),
        "groups": [{"id": name, "name": name} for name in orjson.loads(groups)] if groups else [],
        "created_at": created_at,
    }


def users(cursor, url):
    return _paged(cursor, _USER.format(extra=", (SELECT COUNT(*) FROM virtool_site_user)") + " ORDER BY u.username", [], url, _user)


def user(cursor, url):
    path, _ = _parts(url)
    return orjson.dumps(_user(_fetch(cursor, _USER.format(extra="") + " WHERE u.username = %s", [path[-1]])[0]))


_GROUP = f"""SELECT g.name, {", ".join(f"COALESCE(p.{name}, false)" for name in PERMISSIONS)},
    (SELECT json_agg(u.username ORDER BY u.username) FROM virtool_site_user_groups ug
     INNER JOIN virtool_site_user u ON u.id = ug.user_id WHERE ug.group_id = g.id)
    FROM auth_group g LEFT JOIN virtool_site_grouppermissions p ON p.group_id = g.id"""


def _group(values) -> dict:
    name, *flags, members = values
    return {"id": name, "name": name, "permissions": dict(zip(PERMISSIONS, flags)), "users": _json(members) or []}


def groups(cursor, url):
    return orjson.dumps([_group(values) for values in _fetch(cursor, _GROUP + " ORDER BY g.name")])


def group(cursor, url):
    path, _ = _parts(url)
    return orjson.dumps(_group(_fetch(cursor, _GROUP + " WHERE g.name = %s", [path[-1]])[0]))


_PROCESS = f"""SELECT id, type, step, jsonb_array_length(steps), progress, complete, error, context,
    {_time("created_at")} FROM virtool_site_process"""
_PROCESS_KEYS = ("id", "type", "step", "step_count", "progress", "complete", "error", "context", "created_at")


def _process(values) -> dict:
    document = dict(zip(_PROCESS_KEYS, values))
    document["error"], document["context"] = _json(document["error"]), _json(document["context"])
    return document


def processes(cursor, url):
    return orjson.dumps([_process(values) for values in _fetch(cursor, _PROCESS + " ORDER BY created_at DESC LIMIT 200")])


def process(cursor, url):
    path, _ = _parts(url)
    return orjson.dumps(_process(_fetch(cursor, _PROCESS + " WHERE id = %s", [path[-1]])[0]))


_JOB = f"""SELECT j.id, j.workflow, j.state, j.progress, j.error, j.args, u.username, {_time("j.created_at")},
    {_time("j.updated_at")}{{extra}} FROM virtool_site_job j LEFT JOIN virtool_site_user u ON u.id = j.user_id"""


def _job(values) -> dict:
    job_id, workflow, state, progress, error, args, username, created_at, updated_at = values
    return {"id": job_id, "workflow": workflow, "state": state, "progress": progress, "error": _json(error),
            "args": _json(args), "user": _ref(username), "created_at": created_at, "updated_at": updated_at}


def jobs(cursor, url):
    return _paged(cursor, _JOB.format(extra=", (SELECT COUNT(*) FROM virtool_site_job)") + " ORDER BY j.created_at DESC", [], url, _job)


def job(cursor, url):
    path, _ = _parts(url)
    return orjson.dumps(_job(_fetch(cursor, _JOB.format(extra="") + " WHERE j.id = %s", [path[-1]])[0]))


def _upload(values) -> dict:
    upload_id, name, upload_type, size, username, ready, reserved, created_at = values
    return {"id": upload_id, "name": name, "name_on_disk": upload_id, "type": upload_type, "size": size,
            "user": _ref(username), "ready": ready, "reserved": reserved, "created_at": created_at, "uploaded_at": created_at}


def uploads(cursor, url):
    return _paged(cursor, f"""SELECT p.id, p.name, p.type, p.size, u.username, p.ready, p.reserved, {_time("p.created_at")},
        (SELECT COUNT(*) FROM virtool_site_upload) FROM virtool_site_upload p LEFT JOIN virtool_site_user u ON u.id = p.user_id
        ORDER BY p.created_at DESC""", [], url, _upload)


# References -------------------------------------------------------------------------------------

_REFERENCE = f"""SELECT r.id, r.name, r.description, {_time("r.created_at")}, r.data_type, r.organism, r.public,
    u.username, r.imported_from, r.cloned_from, r.remotes_from, r.release, r.installed, r.updates, r.process_id,
    b.id, b.version, {_time("b.created_at")}, bu.username,
    EXISTS (SELECT 1 FROM indexes_indexfile f WHERE f.index_id = b.id AND f.type = 'json'),
    (SELECT COUNT(*) FROM refs_otu o WHERE o.reference_id = r.id),
    (SELECT COUNT(*) FROM history_change c WHERE c.reference_id = r.id AND c.index_id IS NULL),
    r.restrict_source_types, r.source_types{{extra}}
    FROM refs_reference r LEFT JOIN virtool_site_user u ON u.id = r.user_id
    LEFT JOIN indexes_index b ON b.id = (SELECT i.id FROM indexes_index i WHERE i.reference_id = r.id AND i.ready
                                         ORDER BY i.version DESC LIMIT 1)
    LEFT JOIN virtool_site_user bu ON bu.id = b.user_id WHERE NOT r.deleted"""


def _reference(values) -> dict:
    (reference_id, name, description, created_at, data_type, organism, public, username, imported_from, cloned_from,
     remotes_from, release, installed, updates, process_id, build_id, build_version, build_created_at, build_username,
     has_json, otu_count, unbuilt_count, restrict_source_types, source_types) = values[:24]
    document = {"id": reference_id, "name": name, "description": description, "created_at": created_at,
                "data_type": data_type, "organism": organism, "public": public, "user": _ref(username)}
    for key, value in (("imported_from", imported_from), ("cloned_from", cloned_from), ("remotes_from", remotes_from)):
        if value is not None:
            document[key] = orjson.Fragment(value)
    document.update({
        "release": _json(release), "installed": _json(installed), "updates": _json(updates), "process": _ref(process_id),
        "latest_build": None if build_id is None else {"id": build_id, "version": build_version, "created_at": build_created_at,
                                                       "user": _ref(build_username), "has_json": has_json},
        "otu_count": otu_count, "unbuilt_change_count": unbuilt_count, "restrict_source_types": restrict_source_types,
        "source_types": _json(source_types),
    })
    return document


def refs(cursor, url):
    return _paged(cursor, _REFERENCE.format(extra=", (SELECT COUNT(*) FROM refs_reference t WHERE NOT t.deleted)") + " ORDER BY r.created_at DESC, r.id", [], url, _reference)


_RIGHTS = """json_build_object('build', e.build, 'modify', e.modify, 'modify_otu', e.modify_otu, 'modify_kind',
    e.modify_otu, 'remove', e.remove, 'created_at', {time}, 'id', {name})""".format(time=_time("e.created_at"), name="{name}")
_USER_RIGHTS = f"""(SELECT json_agg({_RIGHTS.format(name="u.username")} ORDER BY e.created_at, e.id) FROM refs_referenceuser e
    INNER JOIN virtool_site_user u ON u.id = e.user_id WHERE e.reference_id = r.id)"""
_GROUP_RIGHTS = f"""(SELECT json_agg({_RIGHTS.format(name="g.name")} ORDER BY e.created_at, e.id) FROM refs_referencegroup e
    INNER JOIN auth_group g ON g.id = e.group_id WHERE e.reference_id = r.id)"""


def ref(cursor, url):
    path, _ = _parts(url)
    extra = f""", {_USER_RIGHTS}, {_GROUP_RIGHTS},
        (SELECT json_agg(json_build_object('id', x.username, 'count', x.n) ORDER BY x.n DESC, x.username) FROM
          (SELECT u.username, COUNT(*) AS n FROM history_change c INNER JOIN virtool_site_user u ON u.id = c.user_id
           WHERE c.reference_id = r.id GROUP BY u.username) x),
        r.internal_control, (SELECT o.name FROM refs_otu o WHERE o.id = r.internal_control AND o.reference_id = r.id)"""
    values = _fetch(cursor, _REFERENCE.format(extra=extra) + " AND r.id = %s", [path[2]])[0]
    users_, groups_, contributors, control_id, control_name = values[24:]
    document = _reference(values)
    document.update({"users": _json(users_) or [], "groups": _json(groups_) or [], "contributors": _json(contributors) or [],
                     "internal_control": None if control_name is None else {"id": control_id, "name": control_name}})
    return orjson.dumps(document)


def ref_users(cursor, url):
    path, _ = _parts(url)
    return _fetch(cursor, f"SELECT COALESCE({_USER_RIGHTS}, '[]') FROM refs_reference r WHERE r.id = %s", [path[2]])[0][0].encode()


def ref_groups(cursor, url):
    path, _ = _parts(url)
    return _fetch(cursor, f"SELECT COALESCE({_GROUP_RIGHTS}, '[]') FROM refs_reference r WHERE r.id = %s", [path[2]])[0][0].encode()


def ref_updates(cursor, url):
    path, _ = _parts(url)
    cursor.execute("SELECT updates FROM refs_reference WHERE id = %s", [path[2]])
    return orjson.dumps(orjson.Fragment(cursor.fetchone()[0]))


#: Virtool's verification of an unverified OTU, in SQL (a verified one has no issues).
_ISSUES = r"""CASE WHEN o.verified THEN NULL ELSE (
    SELECT CASE WHEN x.empty_otu OR x.empty_isolate IS NOT NULL OR x.empty_sequence IS NOT NULL OR x.inconsistent
    THEN json_build_object('empty_otu', x.empty_otu, 'empty_isolate', COALESCE(x.empty_isolate, '[]'),
                           'empty_sequence', COALESCE(x.empty_sequence, '[]'), 'isolate_inconsistency', x.inconsistent) END
    FROM (SELECT NOT EXISTS (SELECT 1 FROM refs_isolate i WHERE i.otu_id = o.id) AS empty_otu,
          (SELECT json_agg(i.isolate_id ORDER BY i.position) FROM refs_isolate i WHERE i.otu_id = o.id
           AND NOT EXISTS (SELECT 1 FROM refs_sequence s WHERE s.isolate_id = i.id)) AS empty_isolate,
          (SELECT json_agg(s.id ORDER BY i.position, s.position) FROM refs_isolate i INNER JOIN refs_sequence s
           ON s.isolate_id = i.id WHERE i.otu_id = o.id AND s.sequence ~ '^\s*$') AS empty_sequence,
          (SELECT COUNT(DISTINCT n) > 1 FROM (SELECT COUNT(s.id) AS n FROM refs_isolate i LEFT JOIN refs_sequence s
           ON s.isolate_id = i.id WHERE i.otu_id = o.id GROUP BY i.id) c) AS inconsistent) x) END"""


def _otu_summary(values) -> dict:
    otu_id, name, abbreviation, verified, version, reference_id, issues = values
    return {"id": otu_id, "name": name, "abbreviation": abbreviation, "verified": verified, "version": version,
            "reference": {"id": reference_id}, "issues": _json(issues)}


def otus(cursor, url):
    """The page is read first, then its unverified OTUs' issues (so they cost only the page)."""
    path, query = _parts(url)
    per_page, offset = _page(query)
    term = query.get("term")
    condition, params = ("", []) if not term else (" AND (o.name ILIKE %s OR o.abbreviation ILIKE %s)", [f"%{term}%", f"%{term}%"])
    where, where_params = f"o.reference_id = %s{condition}", [path[2], *params]
    found = _fetch(cursor, f"""SELECT o.id, o.name, o.abbreviation, o.verified, o.version, o.reference_id, {_ISSUES}, o.found, o.total
        FROM (SELECT o.*, (SELECT COUNT(*) FROM refs_otu o WHERE {where}) AS found,
                     (SELECT COUNT(*) FROM refs_otu o WHERE o.reference_id = %s) AS total
              FROM refs_otu o WHERE {where} ORDER BY o.name, o.id LIMIT %s OFFSET %s) o ORDER BY o.name, o.id""",
                   [*where_params, path[2], *where_params, per_page, offset])
    if not found:
        return _envelope([], 0, per_page, offset)
    return _envelope([_otu_summary(values[:7]) for values in found], found[0][7], per_page, offset, found[0][8])


_ISOLATE_ROWS = """SELECT i.isolate_id, i.source_type, i.source_name, i."default", s.id, s.accession, s.definition, s.host,
    s.segment, s.sequence FROM refs_isolate i LEFT JOIN refs_sequence s ON s.isolate_id = i.id"""


def _isolates(found) -> list[dict]:
    isolates = []
    for isolate_id, source_type, source_name, default, sequence_id, accession, definition, host, segment, sequence in found:
        if not isolates or isolates[-1]["id"] != isolate_id:
            isolates.append({"id": isolate_id, "source_type": source_type, "source_name": source_name, "default": default, "sequences": []})
        if sequence_id is not None:
            isolates[-1]["sequences"].append({"id": sequence_id, "accession": accession, "definition": definition,
                                              "host": host, "segment": segment, "sequence": sequence})
    return isolates


def _issues(isolates: list[dict]) -> dict | None:
    issues = {
        "empty_otu": not isolates,
        "empty_isolate": [i["id"] for i in isolates if not i["sequences"]],
        "empty_sequence": [s["id"] for i in isolates for s in i["sequences"] if not (s["sequence"] or "").strip()],
        "isolate_inconsistency": len({len(i["sequences"]) for i in isolates}) > 1,
    }
    return issues if any(issues.values()) else None


def otu(cursor, url):
    path, _ = _parts(url)
    found = _fetch(cursor, f"""SELECT o.id, o.name, o.abbreviation, o.schema, o.taxid, o.version, o.verified, o.imported,
        o.last_indexed_version, o.reference_id, c.id, c.method_name, c.description, {_time("c.created_at")}, cu.username,
        i.isolate_id, i.source_type, i.source_name, i."default", s.id, s.accession, s.definition, s.host, s.segment, s.sequence
        FROM refs_otu o LEFT JOIN refs_isolate i ON i.otu_id = o.id LEFT JOIN refs_sequence s ON s.isolate_id = i.id
        LEFT JOIN history_change c ON c.id = (SELECT c2.id FROM history_change c2 WHERE c2.otu_id = o.id
                                              ORDER BY c2.otu_version DESC LIMIT 1)
        LEFT JOIN virtool_site_user cu ON cu.id = c.user_id
        WHERE o.id = %s ORDER BY i.position, s.position""", [path[2]])
    head = found[0]
    keys = ("id", "name", "abbreviation", "schema", "taxid", "version", "verified", "imported", "last_indexed_version")
    document = dict(zip(keys, head[:9]))
    document["schema"] = orjson.Fragment(document["schema"])
    isolates = _isolates([values[15:] for values in found if values[15] is not None])
    change_id, method_name, description, created_at, username = head[10:15]
    document.update({
        "reference": {"id": head[9]}, "isolates": isolates, "issues": _issues(isolates),
        "most_recent_change": None if change_id is None else {"id": change_id, "method_name": method_name,
                                                              "description": description, "created_at": created_at,
                                                              "user": _ref(username)},
    })
    return orjson.dumps(document)


def isolates(cursor, url):
    path, _ = _parts(url)
    return orjson.dumps(_isolates(_fetch(cursor, _ISOLATE_ROWS + " WHERE i.otu_id = %s ORDER BY i.position, s.position", [path[2]])))


def isolate(cursor, url):
    path, _ = _parts(url)
    found = _fetch(cursor, _ISOLATE_ROWS + " WHERE i.otu_id = %s AND i.isolate_id = %s ORDER BY s.position", [path[2], path[4]])
    return orjson.dumps(_isolates(found)[0])


_SEQUENCE = """SELECT s.id, s.accession, s.definition, s.host, s.segment, s.sequence, s.otu_id, i.isolate_id, o.reference_id
    FROM refs_sequence s INNER JOIN refs_isolate i ON i.id = s.isolate_id INNER JOIN refs_otu o ON o.id = s.otu_id
    WHERE s.otu_id = %s AND i.isolate_id = %s"""
_SEQUENCE_KEYS = ("id", "accession", "definition", "host", "segment", "sequence", "otu_id", "isolate_id")


def _sequence(values) -> dict:
    return {**dict(zip(_SEQUENCE_KEYS, values)), "reference": {"id": values[8]}}


def sequences(cursor, url):
    path, _ = _parts(url)
    return orjson.dumps([_sequence(values) for values in _fetch(cursor, _SEQUENCE + " ORDER BY s.position", [path[2], path[4]])])


def sequence(cursor, url):
    path, _ = _parts(url)
    return orjson.dumps(_sequence(_fetch(cursor, _SEQUENCE + " AND s.id = %s", [path[2], path[4], path[6]])[0]))


# History and indexes ----------------------------------------------------------------------------

_CHANGE = f"""SELECT c.id, c.method_name, c.description, {_time("c.created_at")}, c.otu_id, c.otu_name, c.otu_version,
    c.reference_id, u.username, c.index_id, i.version{{extra}}
    FROM history_change c LEFT JOIN virtool_site_user u ON u.id = c.user_id LEFT JOIN indexes_index i ON i.id = c.index_id"""
_UNBUILT = {"id": "unbuilt", "version": "unbuilt"}


def _change(values) -> dict:
    change_id, method_name, description, created_at, otu_id, otu_name, otu_version, reference_id, username, index_id, index_version = values[:11]
    otu_ = {"id": otu_id, "name": otu_name, "version": "removed" if method_name == "remove" else otu_version}
    return {"id": change_id, "method_name": method_name, "description": description, "created_at": created_at,
            "otu": otu_, "virus": otu_, "reference": {"id": reference_id}, "user": _ref(username),
            "index": _UNBUILT if index_id is None else {"id": index_id, "version": index_version}}


def history(cursor, url):
    path, _ = _parts(url)
    where, params = ("WHERE c.reference_id = %s", [path[2]]) if path[1] == "refs" else ("", [])
    sql = _CHANGE.format(extra=f", (SELECT COUNT(*) FROM history_change c {where})")
    return _paged(cursor, sql + f" {where} ORDER BY c.created_at DESC, c.otu_version DESC, c.id DESC", params * 2, url, _change)


def index_history(cursor, url):
    path, _ = _parts(url)
    sql = _CHANGE.format(extra=", (SELECT COUNT(*) FROM history_change c WHERE c.index_id = %s)")
    return _paged(cursor, sql + " WHERE c.index_id = %s ORDER BY c.otu_name, c.otu_version DESC, c.id", [path[2]] * 2, url, _change)


def change(cursor, url):
    path, _ = _parts(url)
    values = _fetch(cursor, _CHANGE.format(extra=", c.diff") + " WHERE c.id = %s", [path[2]])[0]
    return orjson.dumps({**_change(values), "diff": _json(values[11])})


def otu_history(cursor, url):
    path, _ = _parts(url)
    found = _fetch(cursor, _CHANGE.format(extra="") + " WHERE c.otu_id = %s ORDER BY c.otu_version DESC", [path[2]])
    return orjson.dumps([_change(values) for values in found])


_INDEX = f"""SELECT x.id, x.version, {_time("x.created_at")}, x.ready, x.has_files, x.job_id, x.reference_id, u.username,
    COALESCE(x.change_count, (SELECT COUNT(*) FROM history_change c WHERE c.index_id = x.id)),
    COALESCE(x.modified_otu_count, (SELECT COUNT(DISTINCT c.otu_id) FROM history_change c WHERE c.index_id = x.id)){{extra}}
    FROM indexes_index x LEFT JOIN virtool_site_user u ON u.id = x.user_id"""


def _index(values) -> dict:
    index_id, version, created_at, ready, has_files, job_id, reference_id, username, change_count, otu_count = values[:10]
    return {"id": index_id, "version": version, "created_at": created_at, "ready": ready, "has_files": has_files,
            "job": _ref(job_id), "ref": {"id": reference_id}, "reference": {"id": reference_id}, "user": _ref(username),
            "change_count": change_count, "modified_otu_count": otu_count, "modified_kind_count": otu_count}


def indexes(cursor, url):
    path, query = _parts(url)
    where, params = ("WHERE x.reference_id = %s", [path[2]]) if path[1] == "refs" else ("", [])
    references = "%s" if params else "SELECT r.id FROM refs_reference r WHERE NOT r.deleted"
    per_page, offset = _page(query)
    found = _fetch(cursor, _INDEX.format(extra=f""", (SELECT COUNT(*) FROM indexes_index x {where}),
        (SELECT COUNT(*) FROM history_change c WHERE c.index_id IS NULL AND c.reference_id IN ({references})),
        (SELECT COUNT(DISTINCT c.otu_id) FROM history_change c WHERE c.index_id IS NULL AND c.reference_id IN ({references})),
        (SELECT COUNT(*) FROM refs_otu o WHERE o.reference_id IN ({references}))""")
        + f" {where} ORDER BY x.created_at DESC, x.version DESC LIMIT %s OFFSET %s", [*params * 5, per_page, offset])
    found_count, changes, modified, total = found[0][10:14] if found else (0, 0, 0, 0)
    return _envelope([_index(values) for values in found], found_count, per_page, offset, change_count=changes,
                     modified_otu_count=modified, modified_kind_count=modified, total_otu_count=total)


def index(cursor, url):
    """The index with its manifest, its stored summary of changes, its contributors and files."""
    path, _ = _parts(url)
    values = _fetch(cursor, _INDEX.format(extra=""", r.name, r.data_type, x.manifest,
        (SELECT json_agg(json_build_object('id', y.username, 'count', y.n) ORDER BY y.n DESC, y.username) FROM
          (SELECT u.username, COUNT(*) AS n FROM history_change c INNER JOIN virtool_site_user u ON u.id = c.user_id
           WHERE c.index_id = x.id GROUP BY u.username) y),
        x.changed_otus,
        (SELECT json_agg(json_build_object('id', f.id, 'name', f.name, 'type', f.type, 'size', f.size,
                'download_url', '/api/indexes/' || x.id || '/files/' || f.name) ORDER BY f.id)
         FROM indexes_indexfile f WHERE f.index_id = x.id)""") + " INNER JOIN refs_reference r ON r.id = x.reference_id WHERE x.id = %s",
        [path[2]])[0]
    document = _index(values)
    name, data_type, manifest, contributors, changed_otus, files = values[10:]
    document.update({"manifest": orjson.Fragment(manifest), "reference": {"id": document["ref"]["id"], "name": name, "data_type": data_type},
                     "contributors": _json(contributors) or [], "otus": orjson.Fragment(changed_otus), "files": _json(files) or []})
    return orjson.dumps(document)


# Samples and analyses ---------------------------------------------------------------------------

_SAMPLE = f"""SELECT sm.id, sm.name, sm.host, sm.isolate, sm.locale, sm.notes, sm.library_type, u.username, g.name,
    sm.group_read, sm.group_write, sm.all_read, sm.all_write, {_time("sm.created_at")}{{extra}}
    FROM analyses_sample sm LEFT JOIN virtool_site_user u ON u.id = sm.user_id LEFT JOIN auth_group g ON g.id = sm.group_id"""
_SAMPLE_KEYS = ("id", "name", "host", "isolate", "locale", "notes", "library_type", "user", "group", "group_read",
                "group_write", "all_read", "all_write", "created_at")


def _sample(values) -> dict:
    document = dict(zip(_SAMPLE_KEYS, values))
    document["user"] = _ref(document["user"])
    return document


def samples(cursor, url):
    return _paged(cursor, _SAMPLE.format(extra=", (SELECT COUNT(*) FROM analyses_sample)") + " ORDER BY sm.created_at DESC, sm.id", [], url, _sample)


def sample(cursor, url):
    path, _ = _parts(url)
    return orjson.dumps(_sample(_fetch(cursor, _SAMPLE.format(extra="") + " WHERE sm.id = %s", [path[2]])[0]))


_ANALYSIS = f"""SELECT a.id, a.workflow, a.ready, {_time("a.created_at")}, {_time("a.updated_at")}, a.job_id, a.sample_id,
    sm.name, a.reference_id, a.reference_name, a.index_id, a.index_version, u.username,
    (SELECT json_agg(json_build_object('id', t, 'name', NULL)) FROM jsonb_array_elements_text(a.subtractions) t){{extra}}
    FROM analyses_analysis a LEFT JOIN analyses_sample sm ON sm.id = a.sample_id LEFT JOIN virtool_site_user u ON u.id = a.user_id"""


def _analysis(values) -> dict:
    (analysis_id, workflow, ready, created_at, updated_at, job_id, sample_id, sample_name, reference_id, reference_name,
     index_id, index_version, username, subtractions) = values[:14]
    return {"id": analysis_id, "workflow": workflow, "algorithm": workflow, "ready": ready, "created_at": created_at,
            "updated_at": updated_at, "job": _ref(job_id),
            "sample": None if sample_id is None else {"id": sample_id, "name": sample_name},
            "reference": {"id": reference_id, "name": reference_name}, "index": {"id": index_id, "version": index_version},
            "user": _ref(username), "subtractions": _json(subtractions) or []}


def sample_analyses(cursor, url):
    path, _ = _parts(url)
    sql = _ANALYSIS.format(extra=", (SELECT COUNT(*) FROM analyses_analysis a WHERE a.sample_id = %s)")
    return _paged(cursor, sql + " WHERE a.sample_id = %s ORDER BY a.created_at DESC, a.id", [path[2]] * 2, url, _analysis)


def _median(values: list):
    ordered, middle = sorted(values), len(values) // 2
    return ordered[middle] if len(values) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def analysis(cursor, url):
    """The analysis, its files, and what each Pathoscope hit shows of its OTU and sequence as
    they are now (the endpoint rebuilds OTUs changed since the hit's version from history)."""
    path, _ = _parts(url)
    values = _fetch(cursor, _ANALYSIS.format(extra=f""", a.results,
        (SELECT json_agg(json_build_array(h.hit ->> 'id', o.name, o.abbreviation, i.isolate_id, i.source_type,
                                          i.source_name, s.accession, s.definition, length(s.sequence)) ORDER BY h.n)
         FROM jsonb_array_elements(a.results -> 'hits') WITH ORDINALITY h(hit, n)
         LEFT JOIN refs_otu o ON o.id = h.hit -> 'otu' ->> 'id'
         LEFT JOIN refs_sequence s ON s.id = h.hit ->> 'id' AND s.otu_id = o.id LEFT JOIN refs_isolate i ON i.id = s.isolate_id),
        (SELECT json_agg(json_build_object('analysis', f.analysis_id, 'description', f.description, 'format', f.format,
                'id', f.id, 'name', f.name, 'name_on_disk', f.name_on_disk, 'size', f.size, 'uploaded_at', {_time("f.uploaded_at")})
                ORDER BY f.id) FROM analyses_analysisfile f WHERE f.analysis_id = a.id)""") + " WHERE a.id = %s", [path[2]])[0]
    document = _analysis(values)
    results, found, files = values[14:]
    results = orjson.loads(results) if results else None
    if results and results.get("hits"):
        hits = []
        for hit, (_, name, abbreviation, isolate_id, source_type, source_name, accession, definition, length) in zip(
            results["hits"], orjson.loads(found)
        ):
            align = hit.get("align")
            if isolate_id is None:
                isolate_name = "Unknown Isolate"
            elif source_type and source_name:
                isolate_name = f"{source_type.capitalize()} {source_name}"
            else:
                isolate_name = "Unnamed Isolate"
            hits.append({
                **hit, "otu": {**hit["otu"], "name": name or hit["otu"]["id"], "abbreviation": abbreviation or ""},
                "isolate": {"id": isolate_id, "name": isolate_name},
                "accession": accession or hit["id"], "definition": definition or "",
                "length": length if isolate_id else (len(align) if align else None),
                "median_depth": _median(align) if align else hit.get("depth", 0),
            })
        results["hits"] = hits
    document.update({
        "read_count": results.get("read_count") if results else None,
        "diagnosis": results.get("hits") if results else None,
        "results": results, "files": _json(files) or [],
    })
    return orjson.dumps(document)
