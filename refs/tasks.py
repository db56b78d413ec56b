"""Celery tasks that move references in bulk. Thin: they take ids and call refs.processes.

Services queue them by name (refs.services.reference_processes). All are acks_late: a task
whose worker dies goes back to the queue and, run again, restarts its process from the first
step; the writing is one transaction, so nothing half-written is ever left behind (see
refs.processes).
"""

from celery import shared_task

from refs.processes.clone import reference_clone_run
from refs.processes.delete import reference_delete_run
from refs.processes.import_file import reference_import_run
from refs.processes.remote import reference_remote_run, reference_update_run


@shared_task(name="refs.import_reference", acks_late=True, reject_on_worker_lost=True)
def import_reference(reference_id: str, process_id: str, upload_id: str, user_id=None) -> None:
    reference_import_run(reference_id=reference_id, process_id=process_id, upload_id=upload_id, user_id=user_id)


@shared_task(name="refs.clone_reference", acks_late=True, reject_on_worker_lost=True)
def clone_reference(reference_id: str, process_id: str, source_id: str, user_id=None) -> None:
    reference_clone_run(reference_id=reference_id, process_id=process_id, source_id=source_id, user_id=user_id)


@shared_task(name="refs.remote_reference", acks_late=True, reject_on_worker_lost=True)
def remote_reference(reference_id: str, process_id: str, user_id=None) -> None:
    reference_remote_run(reference_id=reference_id, process_id=process_id, user_id=user_id)


@shared_task(name="refs.update_remote_reference", acks_late=True, reject_on_worker_lost=True)
def update_remote_reference(reference_id: str, process_id: str, user_id=None) -> None:
    reference_update_run(reference_id=reference_id, process_id=process_id, user_id=user_id)


@shared_task(name="refs.delete_reference", acks_late=True, reject_on_worker_lost=True)
def delete_reference(reference_id: str, process_id: str) -> None:
    reference_delete_run(reference_id=reference_id, process_id=process_id)
