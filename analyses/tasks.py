"""Celery tasks of analyses: thin, they take ids and call services."""

import time

from celery import shared_task

from analyses import services


@shared_task(name="analyses.blast_run", bind=True, acks_late=True)
def blast_run(self, blast_id: str) -> None:
    """Drive one NuVs BLAST to its end.

    On a worker, each wait is a new delivery of this task (countdown) on the queue it came
    from, so no worker slot sleeps while NCBI searches. Run in-process (no broker), the task
    waits here instead.
    """
    delay = services.blast_advance(blast_id=blast_id)
    if delay is None:
        return
    if self.request.is_eager:
        while delay is not None:
            time.sleep(delay)
            delay = services.blast_advance(blast_id=blast_id)
        return
    queue = (self.request.delivery_info or {}).get("routing_key")
    options = {"queue": queue} if queue else {}
    blast_run.apply_async((blast_id,), countdown=delay, **options)
