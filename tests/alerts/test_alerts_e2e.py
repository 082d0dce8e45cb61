"""Alerts end to end: real qcluster processes, a real HTTP receiver, polls imported as every path does.

A file of polls is imported (``import_feeds``, as load_csvs, the push API and the folder do) → the
import's signal queues a reconciliation on the workers → the incident opens → the owner's webhook
receives a signed ``incident.opened`` → an active poll is imported → ``incident.closed`` with the
duration. Then: the receiver down (retries, then failing, the incident still recorded), the same
polls imported twice, and two clusters: one notification each time.
"""

import datetime as dt
import json

import pytest

from alerts.models import Channel, Delivery, Incident
from monitoring.imports import import_feeds
from monitoring.ingestion import Feed
from tests.alerts.factories import ChannelFactory
from tests.alerts.receiver import Receiver, signature_is_valid
from tests.factories import OwnerFactory, StoreFactory
from tests.monitoring.csv_files import POLLS_HEADER, write_feed
from tests.reports.workers import Worker, forget_queues, private_queue, wait_for, worker_env

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

SECRET = "a shared secret of the owner's receiver"
STORE = "4242"


@pytest.fixture
def receiver():
    running = Receiver()
    yield running
    running.stop()


@pytest.fixture
def start_cluster(monkeypatch, tmp_path):
    queue = private_queue(monkeypatch)
    base_env = worker_env(queue, ALERT_ALLOW_PRIVATE_TARGETS="1", ALERT_RETRY_DELAYS_SECONDS="1")
    workers: list[Worker] = []

    def start() -> Worker:
        worker = Worker(tmp_path / f"worker-{len(workers)}.log", base_env)
        workers.append(worker)
        wait_for(worker.is_running, 30, "the cluster to start", on_timeout=worker.log_tail)
        return worker

    start.logs = lambda: "\n".join(f"--- {w.log_path.name}\n{w.log_tail()}" for w in workers)
    yield start
    for worker in workers:
        worker.stop()
    forget_queues(queue)


@pytest.fixture
def owner_store_channel(receiver):
    owner = OwnerFactory(slug="bella")
    StoreFactory(store_id=STORE, owner=owner)  # no hours: open all the time; zone: the default
    channel = ChannelFactory(owner=owner, kind=Channel.Kind.WEBHOOK, target=receiver.url, secret=SECRET)
    return owner, channel


def import_polls(tmp_path, name, *polls, force=False):
    """Import polls (status, UTC time text) of the store as the service's loaders do."""
    path = write_feed(tmp_path / name, [POLLS_HEADER] + [f"{STORE},{status},{when} UTC" for status, when in polls])
    import_feeds({Feed.POLLS: path}, source="command", force=force)


def test_an_outage_is_announced_signed_and_its_end_with_the_duration(
    start_cluster, receiver, owner_store_channel, tmp_path
):
    start_cluster()
    import_polls(tmp_path, "first.csv", ("active", "2023-01-25 10:00:00"), ("inactive", "2023-01-25 11:00:00"))
    wait_for(lambda: len(receiver.requests) >= 1, 30, "incident.opened at the receiver", on_timeout=start_cluster.logs)
    headers, body = receiver.requests[0].headers, receiver.requests[0].body
    assert signature_is_valid(headers, body, SECRET)
    assert not signature_is_valid(headers, body, "another secret")  # a forged body fails the check
    assert not signature_is_valid(headers, body + b" ", SECRET)
    opened = json.loads(body)
    assert opened["event"] == "incident.opened"
    assert headers["x-storemonitor-event"] == "incident.opened"
    assert opened["store"]["store_id"] == STORE
    assert opened["incident"]["started_at"] == "2023-01-25T11:00:00Z"
    assert opened["incident"]["started_at_local"] == "2023-01-25T05:00:00-06:00"  # America/Chicago
    assert opened["incident"]["open"] is True

    import_polls(tmp_path, "second.csv", ("active", "2023-01-25 12:00:00"))
    wait_for(lambda: len(receiver.requests) >= 2, 30, "incident.closed at the receiver", on_timeout=start_cluster.logs)
    headers, body = receiver.requests[1].headers, receiver.requests[1].body
    assert signature_is_valid(headers, body, SECRET)
    closed = json.loads(body)
    assert closed["event"] == "incident.closed"
    assert closed["incident"]["ended_at"] == "2023-01-25T12:00:00Z"
    assert closed["incident"]["ended_by"] == "active_poll"
    assert closed["incident"]["duration_minutes"] == 60.0
    # The worker records the success once the receiver has answered.
    incident = wait_for(
        lambda: Incident.objects.filter(closed_notified_at__isnull=False).first(), 10, "closed_notified_at"
    )
    assert incident.opened_notified_at is not None
    assert incident.ended_at == dt.datetime(2023, 1, 25, 12, tzinfo=dt.UTC)


def test_a_receiver_that_is_down_is_retried_then_the_channel_is_failing(
    start_cluster, receiver, owner_store_channel, tmp_path
):
    _, channel = owner_store_channel
    receiver.status = 503  # Service Unavailable, every time
    start_cluster()
    import_polls(tmp_path, "polls.csv", ("inactive", "2023-01-25 11:00:00"))

    def given_up():
        return Delivery.objects.filter(status=Delivery.Status.FAILED).first()

    # The retry is a django-q2 schedule, which its scheduler runs within ~30 s of its time.
    delivery = wait_for(given_up, 75, "the delivery to be given up", on_timeout=start_cluster.logs)
    # The first attempt and one retry per delay (ALERT_RETRY_DELAYS_SECONDS=1), each logged.
    assert delivery.attempts == 2
    assert [attempt.status_code for attempt in delivery.attempt_log.all()] == [503, 503]
    assert len(receiver.requests) == 2
    channel.refresh_from_db()
    assert channel.failing_since is not None
    assert "503" in channel.last_error
    assert Incident.objects.open().count() == 1  # the incident is recorded whatever its delivery


def test_the_same_polls_twice_and_two_clusters_give_one_notification(
    start_cluster, receiver, owner_store_channel, tmp_path
):
    start_cluster()
    start_cluster()
    polls = (("active", "2023-01-25 10:00:00"), ("inactive", "2023-01-25 11:00:00"))
    import_polls(tmp_path, "polls.csv", *polls)
    import_polls(tmp_path, "polls.csv", *polls, force=True)  # loaded again, not skipped by the ledger
    import_polls(tmp_path, "again.csv", ("inactive", "2023-01-25 11:00:00"))  # a re-sent row
    wait_for(lambda: receiver.requests, 30, "incident.opened at the receiver", on_timeout=start_cluster.logs)

    def reconciled_three_times():
        from alerts.models import ReconcileState

        state = ReconcileState.objects.first()
        return state is not None and state.running_since is None and state.last_finished_at is not None

    wait_for(reconciled_three_times, 30, "the reconciliations to finish", on_timeout=start_cluster.logs)
    wait_for(
        lambda: not Delivery.objects.exclude(status=Delivery.Status.SENT).exists(),
        30,
        "every delivery sent",
        on_timeout=start_cluster.logs,
    )
    assert [request.json()["event"] for request in receiver.requests] == ["incident.opened"]
    assert Delivery.objects.count() == 1
    assert Incident.objects.count() == 1
