"""Celery tasks of analyses: thin, they take ids and call services.

A NuVs BLAST is driven by one of two tasks with the same body, so that each goes to the right
queue (settings.CELERY_TASK_ROUTES): `analyses.blast_run`, a local blastn search, is CPU-heavy
and goes to the builds queue; `analyses.blast_ncbi_run` only talks to NCBI and waits, and goes
to the default queue. Either handles a BLAST of either backend (a message queued before the
split still completes).
"""

import time

from celery import shared_task

from analyses import services


def _blast_drive(task, blast_id: str) -> None:
    """Drive one NuVs BLAST to its end.

    On a worker, each wait is a new delivery of this task (countdown) on the queue it came
    from, so no worker slot sleeps while NCBI searches. Run in-process (no broker), the task
    waits here instead.
    """
    delay = services.blast_advance(blast_id=blast_id)
    if delay is None:
        return
    if task.request.is_eager:
        while delay is not None:
            time.sleep(delay)
            delay = services.blast_advance(blast_id=blast_id)
        return
    queue = (task.request.delivery_info or {}).get("routing_key")
    options = {"queue": queue} if queue else {}
    task.apply_async((blast_id,), countdown=delay, **options)


@shared_task(name="analyses.blast_run", bind=True, acks_late=True)
def blast_run(self, blast_id: str) -> None:
    """A BLAST of the local backend (blastn): the builds queue."""
    _blast_drive(self, blast_id)


@shared_task(name="analyses.blast_ncbi_run", bind=True, acks_late=True)
def blast_ncbi_run(self, blast_id: str) -> None:
    """A BLAST of the NCBI backend (HTTP and waiting): the default queue."""
    _blast_drive(self, blast_id)
