"""Real ``manage.py qcluster`` processes and a live server, for the end-to-end tests."""

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

from django.conf import settings
from django.db import connection
from django_q.conf import Conf

from reports import processes
from reports.models import Report

BASE_DIR = Path(__file__).resolve().parent.parent.parent


def private_queue(monkeypatch) -> str:
    """A queue of the test's own, which this process queues onto (sync mode off): parallel test
    runs sharing one Redis never take each other's tasks."""
    queue = f"e2e-{uuid.uuid4().hex[:12]}"
    monkeypatch.setattr(Conf, "SYNC", False)
    monkeypatch.setattr(Conf, "CLUSTER_NAME", queue)
    return queue


def worker_env(queue: str, **extra: str) -> dict[str, str]:
    """The environment of a qcluster on ``queue`` against the test database
    (tests/reports/worker_settings.py), plus ``extra``."""
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.reports.worker_settings",
        "PYTHONPATH": str(BASE_DIR),
        "E2E_DATABASE_NAME": str(connection.settings_dict["NAME"]),
        "E2E_CLUSTER_NAME": queue,
        **extra,
    }


def forget_queues(*queues: str) -> None:
    """Drop what is left of the queues in Redis (the ORM broker's rows go with the test database)."""
    if settings.REDIS_URL:
        import redis

        redis.from_url(settings.REDIS_URL).delete(*(f"django_q:{queue}:q" for queue in queues))


class Worker:
    """A qcluster in its own process group (cluster, sentinel, workers), logging to a file."""

    def __init__(self, log_path: Path, env: dict):
        self.log_path = log_path
        self._log = open(log_path, "ab")  # noqa: SIM115 - open as long as the worker runs; stop() closes it
        self.process = subprocess.Popen(
            [sys.executable, "manage.py", "qcluster"],
            cwd=BASE_DIR,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def is_running(self) -> bool:
        """The cluster said it runs (django-q2 logs "Q Cluster <name> [<queue>] running.")."""
        return "running." in self.log_path.read_text(errors="replace")

    def members(self) -> list[processes.ProcessId]:
        """The main process and every process below it (sentinel, workers, monitor, pusher)."""
        main = processes.identify(self.process.pid)
        return [] if main is None else [main, *processes.descendants(self.process.pid)]

    def signal_and_wait(self, signum: int, *, group: bool, timeout: float = 60) -> float:
        """Send ``signum`` to the process group or to the main process only; seconds until it exits."""
        started = time.monotonic()
        if group:
            os.killpg(self.process.pid, signum)
        else:
            self.process.send_signal(signum)
        self.process.wait(timeout)
        return time.monotonic() - started

    def kill(self) -> None:
        """SIGKILL every process of this cluster at once, as a crash or a power cut would."""
        self._kill_group()
        self.process.wait()

    def stop(self, timeout: float = 30) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout)
        self._kill_group()  # whatever of the cluster is left
        self.process.wait()
        self._log.close()

    def log_tail(self, lines: int = 60) -> str:
        self._log.flush()
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def _kill_group(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)


def wait_for(predicate, timeout: float, what: str, interval: float = 0.2, on_timeout=lambda: ""):
    """Poll ``predicate`` until it returns something truthy; fail with ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}\n{on_timeout()}")
        time.sleep(interval)


def http(method: str, url: str, body=None):
    """(status, headers, body bytes) of one request; error statuses are answers, not exceptions."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


def trigger(live_server, body=None):
    status, headers, content = http("POST", f"{live_server.url}/trigger_report", body)
    assert status == 202, content
    return json.loads(content)["report_id"], headers["Location"]


def poll(location):
    status, _, content = http("GET", f"{location}&format=json")
    assert status == 200, content
    return json.loads(content)


def report(report_id: str) -> Report:
    return Report.objects.get(report_id=report_id)


def running_with_a_heartbeat(report_id, attempt):
    current = report(report_id)
    return current.status == "Running" and current.attempts == attempt and current.heartbeat_at is not None
