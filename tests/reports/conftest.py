"""Fixtures of the report tests."""

import datetime as dt

import pytest

from tests.factories import BusinessHoursFactory, StatusPollFactory, StoreFactory, TimezoneFactory
from tests.reports.workers import Worker, forget_queues, private_queue, worker_env

UTC = dt.UTC


def at(text):
    return dt.datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    """Report CSVs go to a temporary MEDIA_ROOT, not var/media."""
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def worked_examples():
    """The README's two worked examples, stored in the database."""
    a = StoreFactory(store_id="a")
    TimezoneFactory(store=a, timezone_str="UTC")
    BusinessHoursFactory(store=a, day_of_week=2, start_time_local=dt.time(9), end_time_local=dt.time(12))
    for when, status in [("07:00", "active"), ("10:14", "active"), ("11:15", "inactive")]:
        StatusPollFactory(store=a, timestamp_utc=at(f"2023-01-25 {when}"), status=status)
    b = StoreFactory(store_id="b")
    StatusPollFactory(store=b, timestamp_utc=at("2023-01-25 05:00"), status="inactive")
    StatusPollFactory(store=b, timestamp_utc=at("2023-01-25 11:30"), status="active")


@pytest.fixture
def third_example():
    """The third worked example of rules 10-13, store c: zone UTC, open Tuesday and Wednesday
    09:00-21:00; polls Tue 20:50 inactive, Wed 09:30 active, Wed 10:30 inactive (as_of Wed 25 Jan
    12:00)."""
    c = StoreFactory(store_id="c")
    TimezoneFactory(store=c, timezone_str="UTC")
    for day in (1, 2):  # Tuesday, Wednesday
        BusinessHoursFactory(store=c, day_of_week=day, start_time_local=dt.time(9), end_time_local=dt.time(21))
    for when, status in [
        ("2023-01-24 20:50", "inactive"),
        ("2023-01-25 09:30", "active"),
        ("2023-01-25 10:30", "inactive"),
    ]:
        StatusPollFactory(store=c, timestamp_utc=at(when), status=status)
    return c


@pytest.fixture
def start_worker(live_server, monkeypatch, tmp_path, media_root):
    """Start qclusters on a private queue; this process queues onto it (sync mode off)."""
    queue = private_queue(monkeypatch)
    base_env = worker_env(queue, MEDIA_ROOT=str(media_root))
    workers = []

    def start(**env) -> Worker:
        worker = Worker(tmp_path / f"worker-{len(workers)}.log", {**base_env, **env})
        workers.append(worker)
        return worker

    start.logs = lambda: "\n".join(f"--- {w.log_path.name}\n{w.log_tail()}" for w in workers)
    yield start
    for worker in workers:
        worker.stop()
    forget_queues(queue)
