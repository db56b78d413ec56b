"""Celery task of BrAPI: publishing a ready index as a reference set (the default queue).
Thin: it takes the index id and calls brapi.services."""

from celery import shared_task

from brapi import services


@shared_task(name="brapi.referenceset_publish_index", acks_late=True, reject_on_worker_lost=True)
def referenceset_publish_index(index_id: str) -> str | None:
    """Publish a ready index as a BrAPI reference set (idempotent, safe to re-run)."""
    reference_set = services.referenceset_publish_index(index=index_id)
    return reference_set.id if reference_set else None
