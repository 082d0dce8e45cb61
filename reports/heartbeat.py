"""A running report's proof of life: a background thread refreshes its heartbeat.

Progress writes refresh the heartbeat too, but one stage (reading a large snapshot, say) can
run for long without reporting progress; the thread keeps beating through it. A report whose
heartbeat stops lost its worker (see ``reports.actions.recover_stalled_reports``).
"""

import logging
import threading
from collections.abc import Callable

from django.db import DatabaseError, connections

log = logging.getLogger(__name__)


class Heartbeat:
    """Call ``beat()`` every ``interval`` seconds in a daemon thread while the block runs.

    ``beat`` returns False when the report is no longer this run's (it was recovered by
    another worker); the thread then stops and ``lost`` becomes True. Database errors
    (SQLite busy while another report reads its snapshot) skip one beat.
    """

    def __init__(self, beat: Callable[[], bool], interval: float):
        self._beat = beat
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="report-heartbeat", daemon=True)
        self.lost = False

    def __enter__(self) -> "Heartbeat":
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        try:
            while not self._stop.wait(self._interval):
                try:
                    alive = self._beat()
                except DatabaseError as error:
                    log.warning("report heartbeat skipped: %s", error)
                    continue
                if not alive:
                    self.lost = True
                    return
        finally:
            # The thread has its own database connection; never leave it open.
            connections.close_all()
