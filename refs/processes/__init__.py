"""Reference processes: the long work a reference task does, one module per kind.

- `import_file`: a reference file (an upload, a local file, a downloaded release) written as
  a new reference's OTUs.
- `clone`: every OTU of a reference copied into a new one.
- `remote`: a GitHub release installed as a new reference, or a newer release applied.
- `delete`: a reference removed with its indexes, OTUs and history.
- `export`: a reference written as a reference file.

Their parts: `common` (steps, error, run, lock), `rows` (an OTU's document and rows from
file form), `history_sql` (the creation Changes built by PostgreSQL) and `writer` (OTUs and
Changes written in batches). The tasks (refs.tasks) call the `*_run` functions; the
request-time services that create a reference and queue its task are in
refs.services.reference_processes. Shared machinery every app's processes use lives in the
kernel: virtool_site.processes (progress, process_run), virtool_site.locks,
virtool_site.bulk_copy.

Reliability: all OTUs, isolates, sequences and Changes of one import, clone, install or
update are written in ONE transaction, behind a per-reference advisory lock, which first
checks whether an earlier delivery of the same task already committed. A worker killed
mid-task leaves nothing behind; the redelivered task (acks_late) restarts its process from
the first step and completes. An import, clone or remote install that fails (the process
records its error) removes the new reference it was filling in the same transaction
(`common.reference_fill_run`): a failure leaves nothing but its process.
"""
