"""What a job worker process knows of its cluster, and how it stops when told.

``reports.cluster.run_cluster`` (our ``manage.py qcluster``) records which qcluster run the
processes belong to before the cluster forks, and every worker turns SIGTERM or SIGHUP into
``WorkerShutdown`` inside the task it runs, so a report stops where it is and is given back at
once (``reports.actions``); an idle worker just exits.
"""

import os
import signal
import socket
import threading
from types import FrameType

from django_q.conf import Conf

WORKER_STOP_SIGNALS = (signal.SIGTERM, signal.SIGHUP)

# The qcluster run this process belongs to ("host:pid" of its main process), set by run_cluster
# before the cluster forks; its workers inherit it and record it on the reports they claim.
_cluster: str | None = None


class WorkerShutdown(SystemExit):
    """The worker process was told to stop: raised inside the task it runs (or its idle wait)."""

    def __init__(self, signum: int):
        self.signum = signum
        super().__init__(0)

    @property
    def signal_name(self) -> str:
        return signal.Signals(self.signum).name


def worker_identity() -> str:
    """host:pid of this process, recorded on the reports (and report shards) it runs."""
    return f"{socket.gethostname()}:{os.getpid()}"


def set_cluster(identity: str) -> None:
    """Record the qcluster run ("host:pid" of its main process) this process and its children serve."""
    global _cluster
    _cluster = identity


def current_cluster() -> str:
    """The qcluster run of this process ("" outside one, e.g. in tests or sync mode)."""
    return _cluster or ""


def install_worker_signal_handlers(sender: object = None, **kwargs: object) -> None:
    """django-q2 ``post_spawn`` receiver: in a worker, SIGTERM and SIGHUP raise WorkerShutdown once."""
    if Conf.SYNC:
        return  # sync mode runs tasks inside the caller (tests): its signals are not ours
    raised = False

    def stop(signum: int, frame: FrameType | None) -> None:
        nonlocal raised
        if not raised:  # the main process may send it again; the first one is being handled
            raised = True
            raise WorkerShutdown(signum)

    if threading.current_thread() is threading.main_thread():
        for signum in WORKER_STOP_SIGNALS:
            signal.signal(signum, stop)
