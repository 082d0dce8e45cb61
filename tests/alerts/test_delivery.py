"""Sending deliveries exactly once: the claim, the attempt log, retries and giving up, the
queue, the sweep, and tests of a channel — against a real HTTP receiver on 127.0.0.1."""

import datetime as dt
import logging
import threading

import pytest
from django.db import connection
from django.utils import timezone
from django_q.models import Schedule

from alerts import delivery as sending
from alerts.delivery import claim_lease, deliver, queue_delivery, send_due_deliveries, send_test
from alerts.models import Channel, Delivery, DeliveryAttempt, Incident
from reports.actions import worker_identity
from tests.alerts.factories import ChannelFactory, DeliveryFactory, IncidentFactory
from tests.alerts.receiver import Receiver, signature_is_valid

pytestmark = pytest.mark.django_db
Status = Delivery.Status
SECRET = "the receiver's shared secret"


@pytest.fixture
def receiver(settings):
    settings.ALERT_ALLOW_PRIVATE_TARGETS = True  # the receiver is on 127.0.0.1
    settings.ALERT_RETRY_DELAYS_SECONDS = [60, 300, 1800, 7200]
    running = Receiver()
    yield running
    running.stop()


@pytest.fixture
def channel(receiver):
    return ChannelFactory(kind=Channel.Kind.WEBHOOK, target=receiver.url, secret=SECRET)


@pytest.fixture
def queued(monkeypatch):
    """What deliver and the sweep hand to queue_delivery, instead of the queue."""
    calls: list[tuple[int, dt.datetime | None]] = []
    monkeypatch.setattr(sending, "queue_delivery", lambda pk, at=None: calls.append((pk, at)))
    return calls


def opened_delivery(channel, **fields):
    return DeliveryFactory(channel=channel, payload={"event": "incident.opened", "n": 1}, **fields)


def make_due(delivery):
    """As if the retry's delay had passed."""
    Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now() - dt.timedelta(seconds=1))


def test_a_sent_delivery_is_logged_and_marks_the_incident_notified(channel, receiver):
    Channel.objects.filter(pk=channel.pk).update(failing_since=timezone.now(), last_error="given up yesterday")
    delivery = opened_delivery(channel)
    before = timezone.now()

    outcome = deliver(delivery.pk)

    assert outcome == f"incident.opened delivery {delivery.pk} sent to {channel} (HTTP 200) at attempt 1"
    [got] = receiver.requests
    assert signature_is_valid(got.headers, got.body, SECRET)
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.claimed_by, delivery.last_error) == (Status.SENT, 1, "", "")
    assert before <= delivery.sent_at <= timezone.now()
    [attempt] = delivery.attempt_log.all()
    assert (attempt.number, attempt.ok, attempt.status_code, attempt.error) == (1, True, 200, "")
    assert attempt.worker == worker_identity()
    assert before <= attempt.started_at <= delivery.sent_at
    channel.refresh_from_db()
    assert (channel.failing_since, channel.last_error) == (None, "")  # a success clears failing
    incident = Incident.objects.get(pk=delivery.incident_id)
    assert incident.opened_notified_at == delivery.sent_at
    assert incident.closed_notified_at is None


def test_the_closed_event_sets_closed_notified_and_keeps_the_first_channels_times(channel, receiver):
    first = dt.datetime(2023, 1, 25, 12, tzinfo=dt.UTC)
    incident = IncidentFactory(opened_notified_at=first, closed_notified_at=first)
    opened = opened_delivery(channel, incident=incident)
    assert deliver(opened.pk) is not None
    incident.refresh_from_db()
    assert (incident.opened_notified_at, incident.closed_notified_at) == (first, first)

    other = IncidentFactory(store=incident.store, started_at=dt.datetime(2023, 1, 25, 14, tzinfo=dt.UTC))
    closed = DeliveryFactory(channel=channel, incident=other, event="incident.closed", payload={"event": "x"})
    assert deliver(closed.pk) is not None
    other.refresh_from_db()
    closed.refresh_from_db()
    assert (other.opened_notified_at, other.closed_notified_at) == (None, closed.sent_at)


def test_a_task_delivered_again_after_the_send_sends_nothing(channel, receiver):
    delivery = opened_delivery(channel)
    assert deliver(delivery.pk) is not None
    assert deliver(delivery.pk) is None
    assert len(receiver.requests) == 1
    assert DeliveryAttempt.objects.filter(delivery=delivery).count() == 1


def test_a_delivery_claimed_by_another_worker_is_not_sent(channel, receiver):
    delivery = opened_delivery(channel)
    Delivery.objects.filter(pk=delivery.pk).update(
        status=Status.SENDING, claimed_by="other:1", claimed_at=timezone.now()
    )
    assert deliver(delivery.pk) is None
    assert receiver.requests == []


def test_a_failed_attempt_is_retried_after_the_first_delay_by_a_once_schedule(channel, receiver):
    receiver.status = 500
    delivery = opened_delivery(channel)
    before = timezone.now()

    outcome = deliver(delivery.pk)

    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.claimed_by, delivery.claimed_at) == (
        Status.PENDING,
        1,
        "",
        None,
    )
    assert delivery.last_error == "127.0.0.1 answered HTTP 500 Internal Server Error"
    assert before + dt.timedelta(seconds=60) <= delivery.next_attempt_at <= timezone.now() + dt.timedelta(seconds=60)
    assert outcome.startswith(f"incident.opened delivery {delivery.pk} to {channel}: attempt 1 failed")
    [schedule] = Schedule.objects.filter(func="alerts.tasks.deliver")
    assert (schedule.schedule_type, schedule.args, schedule.next_run) == (
        Schedule.ONCE,
        str(delivery.pk),
        delivery.next_attempt_at,
    )
    assert schedule.repeats == -1  # deleted by django-q2 once it ran
    [attempt] = delivery.attempt_log.all()
    assert (attempt.number, attempt.ok, attempt.status_code) == (1, False, 500)
    # Not due yet: the retry task arriving early sends nothing.
    assert deliver(delivery.pk) is None
    assert len(receiver.requests) == 1
    channel.refresh_from_db()
    assert channel.failing_since is None  # failing only once given up


def test_after_the_last_delay_the_delivery_fails_and_the_channel_is_failing(channel, receiver, settings, queued):
    settings.ALERT_RETRY_DELAYS_SECONDS = [60, 300]
    receiver.status = 503
    delivery = opened_delivery(channel)

    deliver(delivery.pk)
    make_due(delivery)
    deliver(delivery.pk)
    make_due(delivery)
    outcome = deliver(delivery.pk)

    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.next_attempt_at) == (Status.FAILED, 3, None)
    assert len(receiver.requests) == 3
    assert [(a.number, a.status_code) for a in delivery.attempt_log.all()] == [(1, 503), (2, 503), (3, 503)]
    # Retries were queued at now + 60 s, then now + 300 s.
    assert [pk for pk, _ in queued] == [delivery.pk, delivery.pk]
    assert outcome == (
        f"incident.opened delivery {delivery.pk} given up after 3 attempts: "
        "127.0.0.1 answered HTTP 503 Service Unavailable"
    )
    channel.refresh_from_db()
    assert channel.failing_since is not None
    assert channel.last_error == outcome
    failing_since = channel.failing_since

    # Another delivery given up keeps the first time; a success clears it.
    second = opened_delivery(channel, incident=IncidentFactory(started_at=dt.datetime(2023, 1, 26, tzinfo=dt.UTC)))
    Delivery.objects.filter(pk=second.pk).update(attempts=2)
    deliver(second.pk)
    channel.refresh_from_db()
    assert channel.failing_since == failing_since
    receiver.status = 200
    third = opened_delivery(channel, incident=IncidentFactory(started_at=dt.datetime(2023, 1, 27, tzinfo=dt.UTC)))
    deliver(third.pk)
    channel.refresh_from_db()
    assert (channel.failing_since, channel.last_error) == (None, "")


def test_the_retry_delays_follow_the_setting(channel, receiver, settings, queued):
    settings.ALERT_RETRY_DELAYS_SECONDS = [60, 300, 1800, 7200]
    receiver.status = 500
    delivery = opened_delivery(channel)
    delays = []
    for _ in range(4):
        deliver(delivery.pk)
        delivery.refresh_from_db()
        delays.append(round((delivery.next_attempt_at - delivery.attempt_log.last().started_at).total_seconds()))
        make_due(delivery)
    assert delays == [60, 300, 1800, 7200]
    deliver(delivery.pk)
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (Status.FAILED, 5)


def test_a_delivery_of_a_disabled_channel_is_given_up_with_a_sentence(channel, receiver):
    Channel.objects.filter(pk=channel.pk).update(enabled=False)
    delivery = opened_delivery(channel)
    outcome = deliver(delivery.pk)
    assert outcome == f"Not sent: the channel {channel} was disabled before the delivery went out."
    delivery.refresh_from_db()
    assert (delivery.status, delivery.last_error) == (Status.FAILED, outcome)
    assert receiver.requests == []
    channel.refresh_from_db()
    assert channel.failing_since is None  # switched off, not failing


def test_a_sender_that_raises_is_a_failed_attempt_not_a_stuck_claim(channel, receiver, monkeypatch, queued):
    def broken(delivery):
        raise KeyError("store")

    monkeypatch.setattr(sending, "send", broken)
    delivery = opened_delivery(channel)
    deliver(delivery.pk)
    delivery.refresh_from_db()
    assert (delivery.status, delivery.last_error) == (Status.PENDING, "The sender raised KeyError: 'store'")


# --- Two workers ----------------------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_workers_delivering_at_once_send_once(receiver):
    channel = ChannelFactory(kind=Channel.Kind.WEBHOOK, target=receiver.url, secret=SECRET)
    delivery = opened_delivery(channel)
    receiver.delay = 0.3  # the first send is still running when the second worker tries
    start = threading.Barrier(2)
    outcomes = []

    def worker():
        try:
            start.wait()
            outcomes.append(deliver(delivery.pk))
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert sorted(outcomes, key=str) == sorted(
        [None, f"incident.opened delivery {delivery.pk} sent to {channel} (HTTP 200) at attempt 1"], key=str
    )
    assert len(receiver.requests) == 1
    assert DeliveryAttempt.objects.filter(delivery=delivery).count() == 1


def test_a_second_delivery_of_the_same_task_returns_none(channel, receiver):
    # The sequential form of the race above (SQLite runs it too): the first claim wins.
    delivery = opened_delivery(channel)
    results = [deliver(delivery.pk), deliver(delivery.pk)]
    assert results[0] is not None
    assert results[1] is None


# --- The queue --------------------------------------------------------------------------------


def test_queue_now_runs_the_deliver_task(channel, receiver):
    # The tests' settings run django-q2 tasks inside async_task (sync mode): the real path.
    delivery = opened_delivery(channel)
    queue_delivery(delivery.pk)
    delivery.refresh_from_db()
    assert delivery.status == Status.SENT
    assert len(receiver.requests) == 1


def test_queue_now_hands_the_task_to_django_q(monkeypatch):
    tasks = []
    monkeypatch.setattr(sending, "async_task", lambda *args, **kwargs: tasks.append((args, kwargs)))
    queue_delivery(41)
    assert tasks == [(("alerts.tasks.deliver", 41), {"group": "alerts"})]


def test_queue_later_is_a_once_schedule_at_that_time():
    at = dt.datetime(2030, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    queue_delivery(41, at=at)
    [schedule] = Schedule.objects.filter(func="alerts.tasks.deliver")
    assert (schedule.func, schedule.args, schedule.schedule_type, schedule.next_run, schedule.cluster) == (
        "alerts.tasks.deliver",
        "41",
        Schedule.ONCE,
        at,
        None,
    )


def test_a_queue_that_fails_is_logged_not_raised(monkeypatch, caplog):
    def unreachable(*args, **kwargs):
        raise ConnectionError("redis is down")

    monkeypatch.setattr(sending, "async_task", unreachable)
    monkeypatch.setattr(Schedule.objects, "create", unreachable)
    with caplog.at_level(logging.ERROR, logger="alerts.delivery"):
        queue_delivery(41)
        queue_delivery(42, at=timezone.now())
    assert [record.getMessage() for record in caplog.records] == [
        "could not queue delivery pk=41; the sweep sends it",
        "could not queue delivery pk=42; the sweep sends it",
    ]


# --- The sweep --------------------------------------------------------------------------------


def test_the_sweep_queues_due_retries_and_lost_tasks_only(channel, queued):
    now = timezone.now()
    incidents = iter(IncidentFactory(started_at=now - dt.timedelta(hours=n)) for n in range(10))
    due_retry = opened_delivery(
        channel, incident=next(incidents), attempts=1, next_attempt_at=now - dt.timedelta(minutes=2)
    )
    lost = opened_delivery(channel, incident=next(incidents))
    Delivery.objects.filter(pk=lost.pk).update(created_at=now - dt.timedelta(minutes=5))
    opened_delivery(channel, incident=next(incidents))  # just created: its own task is on the way
    opened_delivery(channel, incident=next(incidents), next_attempt_at=now + dt.timedelta(minutes=3))  # not yet
    opened_delivery(channel, incident=next(incidents), next_attempt_at=now - dt.timedelta(seconds=10))  # schedule due
    opened_delivery(channel, incident=next(incidents), status=Status.SENT)
    opened_delivery(channel, incident=next(incidents), status=Status.FAILED)
    test = Delivery.objects.create(channel=channel, event="test", payload={})
    Delivery.objects.filter(pk=test.pk).update(created_at=now - dt.timedelta(minutes=5))

    outcome = send_due_deliveries(now)

    assert sorted(pk for pk, _ in queued) == sorted([due_retry.pk, lost.pk])
    assert all(at is None for _, at in queued)
    assert outcome == "2 due deliveries queued, 0 dead worker claims released"


def test_the_sweep_retries_a_claim_whose_worker_died(channel, queued, settings):
    settings.ALERT_SEND_TIMEOUT_SECONDS = 10  # lease: 2 × 10 s + 60 s
    assert claim_lease() == dt.timedelta(seconds=80)
    now = timezone.now()
    claimed_at = now - dt.timedelta(seconds=81)
    dead = opened_delivery(channel, status=Status.SENDING, claimed_by="gone:7", claimed_at=claimed_at)
    DeliveryAttempt.objects.create(delivery=dead, number=1, started_at=claimed_at, worker="gone:7", error="Sending…")
    alive = opened_delivery(
        channel,
        incident=IncidentFactory(started_at=now),
        status=Status.SENDING,
        claimed_by="busy:8",
        claimed_at=now - dt.timedelta(seconds=79),
    )

    outcome = send_due_deliveries(now)

    assert outcome == "0 due deliveries queued, 1 dead worker claim released"
    assert queued == [(dead.pk, None)]
    dead.refresh_from_db()
    assert (dead.status, dead.attempts, dead.next_attempt_at, dead.claimed_by) == (Status.PENDING, 1, now, "")
    error = (
        f"The worker gone:7 stopped during this attempt (claimed {claimed_at:%Y-%m-%d %H:%M:%S} UTC); "
        "whether the receiver got it is unknown."
    )
    assert dead.last_error == error
    assert dead.attempt_log.get().error == error
    alive.refresh_from_db()
    assert (alive.status, alive.claimed_by) == (Status.SENDING, "busy:8")


def test_the_sweep_gives_up_a_dead_claim_on_the_last_attempt(channel, queued, settings):
    settings.ALERT_RETRY_DELAYS_SECONDS = [60]
    now = timezone.now()
    dead = opened_delivery(
        channel, status=Status.SENDING, attempts=1, claimed_by="gone:7", claimed_at=now - dt.timedelta(hours=1)
    )
    send_due_deliveries(now)
    dead.refresh_from_db()
    assert (dead.status, dead.attempts) == (Status.FAILED, 2)
    channel.refresh_from_db()
    assert channel.failing_since == now
    assert channel.last_error.startswith(f"incident.opened delivery {dead.pk} given up after 2 attempts: The worker")
    assert queued == []


def test_a_worker_given_up_for_dead_does_not_overwrite_its_successor(channel, receiver, monkeypatch):
    real_send = sending.send

    def slow_send(delivery):
        # While this worker sends, the sweep (an hour later) takes its claim away.
        send_due_deliveries(timezone.now() + dt.timedelta(hours=1))
        return real_send(delivery)

    monkeypatch.setattr(sending, "send", slow_send)
    monkeypatch.setattr(sending, "queue_delivery", lambda pk, at=None: None)
    delivery = opened_delivery(channel)
    deliver(delivery.pk)
    delivery.refresh_from_db()
    # The sweep's state stands: Pending for the next attempt (at least once after a crash).
    assert (delivery.status, delivery.attempts, delivery.sent_at) == (Status.PENDING, 1, None)
    assert len(receiver.requests) == 1


# --- Tests of a channel ---------------------------------------------------------------------


def test_send_test_sends_a_test_event_and_returns_its_attempt(channel, receiver):
    attempt = send_test(channel)
    assert (attempt.number, attempt.ok, attempt.status_code, attempt.error) == (1, True, 200, "")
    [got] = receiver.requests
    assert got.headers["x-storemonitor-event"] == "test"
    assert got.json()["message"] == f"A test notification from storemonitor to {channel}."
    assert attempt.delivery.event == "test"
    attempt.delivery.refresh_from_db()
    assert attempt.delivery.status == Status.SENT


def test_a_failed_test_is_not_retried_and_does_not_mark_the_channel_failing(channel, receiver):
    receiver.status = 404
    attempt = send_test(channel)
    assert (attempt.ok, attempt.status_code) == (False, 404)
    assert attempt.error == "127.0.0.1 answered HTTP 404 Not Found"
    attempt.delivery.refresh_from_db()
    assert (attempt.delivery.status, attempt.delivery.attempts) == (Status.FAILED, 1)
    assert not Schedule.objects.filter(func="alerts.tasks.deliver").exists()
    channel.refresh_from_db()
    assert channel.failing_since is None


def test_a_disabled_channel_can_be_tested_and_a_passing_test_clears_failing(channel, receiver):
    Channel.objects.filter(pk=channel.pk).update(enabled=False, failing_since=timezone.now(), last_error="down")
    channel.refresh_from_db()
    assert send_test(channel).ok
    channel.refresh_from_db()
    assert (channel.failing_since, channel.last_error) == (None, "")
