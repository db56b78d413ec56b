"""Running a task's work under its Process: progress reporting and the run's outcome.

A long task (a reference import, a deletion, ...) is described by a Process row the client
polls (`virtool_site.services.process_*` write it). Here is what a task's code uses while it
works:

- `Progress`: where the work is, `step(name)` on entering a step and `fraction(0..1)` within
  it. `ProgressGroup` feeds several at once (the process and a command's progress bar).
- `ProcessProgress`: moves the Process through its steps. Progress reported inside the task's
  own transaction goes through a connection of its own, so clients see it before the commit.
- `process_run(process_id)`: the context a task's work runs in. It skips work an earlier
  delivery completed, restarts a half-done process from its first step (a redelivered task,
  acks_late), and ends the process: complete, or failed with the report of a `ProcessError`
  or the message of an unexpected exception (which is logged, not re-raised). Its `on_fail`
  undoes, in the transaction that records the failure, what was made for the work (the new
  reference an import was filling).
"""

import contextvars
import logging
import queue
import threading
import time
from collections.abc import Callable
from contextlib import contextmanager

from django.db import connection, connections, transaction

from virtool_site.models import Process
from virtool_site.services import (
    process_complete,
    process_fail,
    process_progress,
    process_restart,
    process_step,
)

logger = logging.getLogger(__name__)


class ProcessError(Exception):
    """Work that cannot be done; `report` becomes the process's error ({id, message, ...})."""

    error_id = "process_error"

    def __init__(self, message: str = "Failed", *, report: dict | None = None):
        super().__init__(message)
        self.report = report if report is not None else {"id": self.error_id, "message": message}


class Progress:
    """Where a piece of work is: `step(name)` on entering a step, `fraction(0..1)` within it."""

    def step(self, name: str) -> None:
        pass

    def fraction(self, value: float) -> None:
        pass

    def close(self) -> None:
        pass


class ProgressGroup(Progress):
    """Reports to every member (members given as None are left out)."""

    def __init__(self, *members: Progress | None):
        self.members = [m for m in members if m is not None]

    def step(self, name):
        for member in self.members:
            member.step(name)

    def fraction(self, value):
        for member in self.members:
            member.fraction(value)

    def close(self):
        for member in self.members:
            member.close()


class ProcessProgress(Progress):
    """Moves a Process through its steps.

    Inside a transaction this task opened itself, updates go through a helper thread (a
    thread has its own database connection), so they are visible before the commit. When
    the caller already holds a transaction (tests, synchronous callers), or on SQLite (one
    writer at a time), they are written directly.
    """

    MIN_INTERVAL = 0.5

    def __init__(self, process_id: str):
        self.process_id = process_id
        self.side_channel = connection.vendor == "postgresql" and not connection.in_atomic_block
        self._queue: queue.Queue | None = None
        self._thread: threading.Thread | None = None
        self._last = 0.0

    def _send(self, function, **kwargs):
        if self.side_channel and connection.in_atomic_block:
            if self._thread is None:
                self._queue = queue.Queue()
                # In the task's context, so its log lines carry the task's request id.
                context = contextvars.copy_context()
                self._thread = threading.Thread(
                    target=context.run, args=(self._serve,), name=f"progress-{self.process_id}", daemon=True
                )
                self._thread.start()
            self._queue.put((function, kwargs))
        else:
            function(**kwargs)

    def _serve(self):
        try:
            while True:
                item = self._queue.get()
                if item is None:
                    return
                function, kwargs = item
                try:
                    function(**kwargs)
                except Exception:  # progress is advisory: it never breaks the work
                    logger.exception("process %s: progress update failed", self.process_id)
        finally:
            connections.close_all()

    def step(self, name):
        self._last = time.monotonic()
        self._send(process_step, process_id=self.process_id, step=name)

    def fraction(self, value):
        now = time.monotonic()
        if now - self._last < self.MIN_INTERVAL:
            return
        self._last = now
        self._send(process_progress, process_id=self.process_id, step_fraction=value)

    def close(self):
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout=60)
            self._thread = None


@contextmanager
def process_run(
    process_id: str | None,
    *,
    extra: Progress | None = None,
    error_class=ProcessError,
    on_fail: Callable[[dict], None] | None = None,
):
    """Run a task's work under its Process: yields the Progress, or None when there is
    nothing to do (unknown process, or completed by an earlier delivery).

    A redelivered task restarts the process from its first step. Errors end the process
    with the report of a ProcessError or the message of any other exception, and are not
    re-raised; without a process they are raised as `error_class` (a ProcessError).
    `on_fail(report)` runs first, in the transaction that ends the process failed, so both
    commit or neither does; should it raise, the failure is recorded without it.
    """
    process = Process.objects.filter(id=process_id).first() if process_id else None
    if process_id and (process is None or (process.complete and process.error is None)):
        yield None
        return
    if process is not None and (
        process.complete or process.error or process.progress or process.step != process.steps[0]
    ):
        process_restart(process_id=process_id)
    progress = ProgressGroup(ProcessProgress(process_id) if process_id else None, extra)
    try:
        yield progress
    except ProcessError as error:
        progress.close()
        _fail(process_id, error.report, error_class, on_fail)
    except Exception as error:
        logger.exception("process %s failed", process_id)
        progress.close()
        _fail(
            process_id,
            {"id": "unexpected_error", "type": type(error).__name__, "message": str(error)},
            error_class,
            on_fail,
        )
    else:
        progress.close()
        if process_id:
            process_complete(process_id=process_id)


def _fail(process_id, report: dict, error_class, on_fail=None) -> None:
    recorded = False
    if on_fail is not None:
        try:
            with transaction.atomic():
                on_fail(report)
                if process_id:
                    process_fail(process_id=process_id, error=report)
            recorded = True
        except Exception:
            # The failure is what the client must see: it is recorded without the undoing.
            logger.exception("process %s: undoing its work after the failure failed", process_id)
    if not process_id:
        raise error_class(report.get("message", "Failed"))
    if not recorded:
        process_fail(process_id=process_id, error=report)
