"""Running django-q2's cluster so that it stops within seconds when told, and says what it dropped.

django-q2's own ``qcluster`` stops on SIGTERM by setting a multiprocessing Event from its signal
handler; when the same SIGTERM went to the whole process group (systemd, container runtimes),
the sentinel waiting on that Event is already dead and ``Event.set`` waits for it forever
(django-q2 issue #346). Its workers die on the spot, leaving their reports Running until the
stall check gives them back minutes later.

``run_cluster`` (our ``manage.py qcluster``) keeps django-q2's cluster and replaces only that:

- the main process's handlers for SIGTERM, SIGINT and SIGHUP only set a flag;
- the main loop then sends SIGTERM to every process of the cluster (the sentinel, its workers,
  monitor and pusher, known from ``/proc``), gives them ``STOP_GRACE_SECONDS`` to exit, kills
  what is left, and re-queues any report its workers were still running;
- each worker (``reports.worker_signals``, installed on django-q2's ``post_spawn``) turns SIGTERM
  or SIGHUP into ``WorkerShutdown`` inside the task it runs, so a report stops where it is and is
  given back at once (``reports.actions``), and an idle worker just exits.
"""

import logging
import os
import signal
import socket
import threading
import time
from types import FrameType

from django_q.cluster import Cluster

from reports import processes
from reports.actions import give_back_cluster_reports
from reports.worker_signals import current_cluster, set_cluster

log = logging.getLogger(__name__)

# Seconds the cluster's processes get to exit after SIGTERM before they are killed; with the
# main loop's own pace the command ends well within 15 s of the signal.
STOP_GRACE_SECONDS = 8.0
# How often the main process looks at its cluster (its processes, a dead sentinel).
WATCH_SECONDS = 0.5
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


def run_cluster() -> int:
    """Run the cluster until a stop signal; returns the exit status (0 after a clean stop)."""
    set_cluster(f"{socket.gethostname()}:{os.getpid()}")
    stopping = threading.Event()
    received: list[int] = []

    def request_stop(signum: int, frame: FrameType | None) -> None:
        received.append(signum)
        stopping.set()

    cluster = Cluster()  # installs django-q2's handlers; ours replace them before anything forks
    for signum in STOP_SIGNALS:
        signal.signal(signum, request_stop)
    try:
        cluster.start()
    except RuntimeError:
        # The sentinel died while starting: of the group's stop signal, or of a real failure.
        if not stopping.is_set():
            raise
    sentinel = processes.identify(cluster.sentinel.pid) if cluster.sentinel.pid else None
    seen: dict[int, processes.ProcessId] = {}

    def look() -> None:
        # Remember the cluster's processes while they can be found: once the sentinel is gone
        # its children are re-parented and can no longer be found from it.
        if sentinel is not None:
            seen.update((p.pid, p) for p in [sentinel, *processes.descendants(sentinel.pid)])

    status = 0
    look()
    while not stopping.wait(WATCH_SECONDS):
        look()
        # A SIGTERM to the whole group kills the sentinel at once; our own handler may run a
        # moment later, so a dead sentinel is a failure only if no stop signal follows.
        if not cluster.sentinel.is_alive() and not stopping.wait(1.0):
            log.error("the cluster's sentinel exited (status %s); stopping", cluster.sentinel.exitcode)
            status = 1
            break
    look()
    why = signal.Signals(received[0]).name if received else "its sentinel's exit"
    started = time.monotonic()
    log.info("stopping the cluster on %s: %d process(es)", why, len(seen))
    _stop_processes(list(seen.values()), sentinel)
    cluster.sentinel.join(timeout=1)
    _give_back_reports(why)
    log.info("the cluster has stopped (%.1f s)", time.monotonic() - started)
    return status


def _stop_processes(cluster_processes: list[processes.ProcessId], sentinel: processes.ProcessId | None) -> None:
    # The sentinel first: a sentinel that outlived its workers would start new ones.
    ordered = sorted(cluster_processes, key=lambda p: p != sentinel)
    for process in ordered:
        processes.send(process, signal.SIGTERM)
    deadline = time.monotonic() + STOP_GRACE_SECONDS
    while time.monotonic() < deadline:
        if not any(processes.is_alive(p) for p in ordered):
            return
        time.sleep(0.1)
    left = [p for p in ordered if processes.is_alive(p)]
    log.warning("killing %d cluster process(es) still running after %.0f s", len(left), STOP_GRACE_SECONDS)
    for process in left:
        processes.send(process, signal.SIGKILL)


def _give_back_reports(why: str) -> None:
    """The reports this cluster's (now stopped) workers did not finish go back to the queue."""
    try:
        given_back = give_back_cluster_reports(current_cluster(), why)
    except Exception:
        log.exception("could not give back the reports of the stopped cluster; the stall check will")
        return
    if given_back:
        log.warning("handed over %d report(s) its workers did not finish", len(given_back))
