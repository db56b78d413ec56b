"""Celery task of index builds (the builds queue): thin, it takes the index id and calls
indexes.services, which queues it by name."""

from celery import shared_task

from indexes import services


@shared_task(name="indexes.build_index", acks_late=True, reject_on_worker_lost=True)
def build_index(index_id: str) -> None:
    """Build an index's files and finalize it (see `indexes.services.index_build`)."""
    services.index_build(index_id=index_id)
