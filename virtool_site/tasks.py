"""Site-wide Celery tasks: the worker liveness walk and the storage sweep."""

import logging

from celery import shared_task

from virtool_site.services import process_complete, process_step

logger = logging.getLogger(__name__)


@shared_task(name="virtool_site.process_touch")
def process_touch(process_id: str) -> None:
    """Walks a process through its steps; used to check that workers are alive."""
    from virtool_site.models import Process

    process = Process.objects.get(id=process_id)
    for step in process.steps:
        process_step(process_id=process_id, step=step)
    process_complete(process_id=process_id)
    logger.info("Process %s walked through %d steps", process_id, len(process.steps))


@shared_task(name="virtool_site.storage_sweep", acks_late=True)
def storage_sweep() -> int:
    """Remove stored files no row names (see virtool_site.storage_sweep); schedule it, e.g.
    daily with celery beat. Runs on the default queue."""
    from virtool_site.storage_sweep import storage_orphans_remove

    return len(storage_orphans_remove())
