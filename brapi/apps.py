import logging

from django.apps import AppConfig

logger = logging.getLogger(__name__)


def index_ready_receiver(sender, index, **kwargs):
    """Publish a newly ready index as a BrAPI reference set.

    `index_ready` is sent after the index's transaction commits, so the task sees it ready.
    The work runs as a task (in-process when tasks are eager): publishing a large reference
    must neither slow down nor break the finalize request that made the index ready.
    """
    from brapi.tasks import referenceset_publish_index

    try:
        referenceset_publish_index.delay(getattr(index, "pk", index))
    except Exception:  # a broker outage must not fail the finalize; `brapi_publish` catches up
        logger.exception("Could not queue BrAPI publication of index %s", getattr(index, "pk", index))


class BrapiConfig(AppConfig):
    name = "brapi"
    verbose_name = "BrAPI"

    def ready(self):
        from indexes.signals import index_ready

        index_ready.connect(index_ready_receiver, dispatch_uid="brapi.publish_index")
