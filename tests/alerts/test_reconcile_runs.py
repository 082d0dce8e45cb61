"""One reconciliation at a time (alerts.runs): the claim, the round owed to a request, the lease,
the bound on rounds, and the deliveries a run plans and queues."""

import datetime as dt

import pytest
from django.utils import timezone

from alerts import runs
from alerts.incidents import ReconcileResult
from alerts.models import Delivery, Incident, ReconcileState
from tests.alerts.factories import ChannelFactory
from tests.factories import OwnerFactory, StatusPollFactory, StoreFactory

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 12, 2, 12, 0, tzinfo=dt.UTC)
AS_OF = dt.datetime(2023, 1, 25, 12, 0, tzinfo=dt.UTC)


class Rounds:
    """Stands in for alerts.runs.reconcile_and_plan: counts rounds and runs ``during`` (what other
    tasks do meanwhile) inside the round numbered by its key."""

    def __init__(self, during=None):
        self.as_ofs: list[dt.datetime | None] = []
        self.during = during or {}

    def __call__(self, as_of=None):
        self.as_ofs.append(as_of)
        if action := self.during.get(len(self.as_ofs)):
            action()
        return ReconcileResult(as_of=AS_OF, outages=len(self.as_ofs)), []

    @property
    def count(self) -> int:
        return len(self.as_ofs)


@pytest.fixture
def rounds(monkeypatch):
    def install(during=None) -> Rounds:
        fake = Rounds(during)
        monkeypatch.setattr(runs, "reconcile_and_plan", fake)
        return fake

    return install


@pytest.fixture
def queued_tasks(monkeypatch) -> list[str]:
    """The tasks alerts.tasks queues (django-q2's async_task recorded, not run)."""
    names: list[str] = []
    monkeypatch.setattr("alerts.tasks.async_task", lambda name, **options: names.append(name))
    return names


def state() -> ReconcileState:
    return ReconcileState.objects.get(pk=1)


def test_a_run_claims_reconciles_once_and_lets_go(rounds, queued_tasks):
    fake = rounds()

    results = runs.run_reconcile("worker-1", now=NOW)

    assert [result.outages for result in results] == [1]
    assert fake.as_ofs == [None]
    current = state()
    assert (current.running_since, current.runner, current.rerun_requested) == (None, "", False)
    assert current.last_as_of == AS_OF
    assert current.last_summary == results[0].describe()
    assert queued_tasks == []


def test_a_run_while_another_holds_the_claim_asks_it_to_go_round_once_more(rounds):
    ReconcileState.objects.create(pk=1, running_since=NOW, runner="worker-1")
    fake = rounds()

    assert runs.run_reconcile("worker-2", now=NOW + dt.timedelta(seconds=5)) is None

    assert fake.count == 0
    current = state()
    assert (current.runner, current.rerun_requested) == ("worker-1", True)


def test_the_holder_goes_round_once_more_for_a_request_made_while_it_ran(rounds, queued_tasks):
    second_run = []
    # During the first round an import's task comes and finds the claim held.
    fake = rounds(during={1: lambda: second_run.append(runs.run_reconcile("worker-2", now=NOW))})

    results = runs.run_reconcile("worker-1", now=NOW)

    assert second_run == [None]
    assert len(results) == 2
    assert fake.count == 2
    current = state()
    assert (current.running_since, current.rerun_requested) == (None, False)
    assert queued_tasks == []


def test_an_explicit_report_time_is_the_first_rounds_only(rounds):
    fake = rounds(during={1: lambda: runs.run_reconcile("worker-2", now=NOW)})

    runs.run_reconcile("worker-1", now=NOW, as_of=AS_OF)

    assert fake.as_ofs == [AS_OF, None]


def test_a_claim_older_than_the_lease_is_taken_over(rounds):
    ReconcileState.objects.create(
        pk=1, running_since=NOW - runs.RECONCILE_LEASE - dt.timedelta(seconds=1), runner="dead"
    )
    fake = rounds()

    results = runs.run_reconcile("worker-2", now=NOW)

    assert len(results) == 1
    assert fake.count == 1
    assert state().runner == ""


def test_a_claim_within_the_lease_is_not_taken_over(rounds):
    ReconcileState.objects.create(
        pk=1, running_since=NOW - runs.RECONCILE_LEASE + dt.timedelta(seconds=1), runner="slow"
    )
    fake = rounds()

    assert runs.run_reconcile("worker-2", now=NOW) is None
    assert fake.count == 0


def test_a_run_taken_over_stops_after_its_round_and_leaves_the_claim_alone(rounds):
    def taken_over():
        ReconcileState.objects.filter(pk=1).update(runner="worker-2", running_since=NOW, rerun_requested=True)

    fake = rounds(during={1: taken_over})

    results = runs.run_reconcile("worker-1", now=NOW - runs.RECONCILE_LEASE * 2)

    assert len(results) == 1
    assert fake.count == 1
    assert state().runner == "worker-2"  # the new holder keeps its claim


def test_a_holder_that_let_go_before_the_request_landed_is_replaced_by_the_requester(rounds, monkeypatch):
    ReconcileState.objects.create(pk=1, running_since=NOW, runner="worker-1")
    real_claim = runs._claim
    attempts = []

    def claim_while_the_holder_lets_go(state_pk, runner, moment):
        attempts.append(runner)
        claimed = real_claim(state_pk, runner, moment)
        if len(attempts) == 1:  # worker-1 finishes right after worker-2's first try
            ReconcileState.objects.filter(pk=1, runner="worker-1").update(running_since=None, runner="")
        return claimed

    monkeypatch.setattr(runs, "_claim", claim_while_the_holder_lets_go)
    fake = rounds()

    results = runs.run_reconcile("worker-2", now=NOW)

    # The request would have found nobody to serve it: worker-2 runs the round itself.
    assert attempts == ["worker-2", "worker-2"]
    assert len(results) == 1
    assert fake.count == 1
    assert (state().running_since, state().rerun_requested) == (None, False)


def test_a_run_goes_round_at_most_max_rounds_then_queues_a_task_for_the_next(rounds, queued_tasks):
    def an_import_asks():
        assert runs.run_reconcile("importer", now=NOW) is None

    fake = rounds(during=dict.fromkeys(range(1, runs.MAX_ROUNDS + 1), an_import_asks))

    results = runs.run_reconcile("worker-1", now=NOW)

    assert len(results) == runs.MAX_ROUNDS == fake.count
    assert queued_tasks == ["alerts.tasks.reconcile"]
    current = state()
    assert (current.running_since, current.runner) == (None, "")


def test_a_round_that_fails_lets_go_of_the_claim(monkeypatch):
    def failing(as_of=None):
        raise RuntimeError("the database went away")

    monkeypatch.setattr(runs, "reconcile_and_plan", failing)

    with pytest.raises(RuntimeError):
        runs.run_reconcile("worker-1", now=NOW)

    assert (state().running_since, state().runner) == (None, "")


# --- The real thing: incidents and their deliveries --------------------------------------------


def test_a_run_queues_the_deliveries_its_incidents_call_for_once(queued):
    owner = OwnerFactory(slug="alpha")
    store = StoreFactory(store_id="a", owner=owner)  # open all the time, zone the default
    channel = ChannelFactory(owner=owner)
    StatusPollFactory(store=store, timestamp_utc=AS_OF - dt.timedelta(hours=1), status="active")
    StatusPollFactory(store=store, timestamp_utc=AS_OF, status="inactive")

    [result] = runs.run_reconcile("worker-1")

    incident = Incident.objects.get()
    delivery = Delivery.objects.get()
    assert (delivery.channel, delivery.event, delivery.incident) == (channel, Delivery.Event.INCIDENT_OPENED, incident)
    assert queued == [delivery.pk]
    assert result.opened == [incident.pk]

    [again] = runs.run_reconcile("worker-1")
    assert again.unchanged == 1
    assert queued == [delivery.pk]  # nothing new to send


def test_reconcile_and_plan_without_polls_plans_nothing():
    result, deliveries = runs.reconcile_and_plan()
    assert (result.as_of, deliveries) == (None, [])


# --- Every import asks for one, once its transaction has committed -----------------------------

POLLS = (("a", "active", "2023-01-25 10:00"), ("a", "inactive", "2023-01-25 11:00"))


def test_an_import_queues_one_reconciliation_once_it_has_committed(
    feeds, queued_tasks, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        feeds.polls(*POLLS)
        assert queued_tasks == []  # not before the commit: the task must see the polls

    assert queued_tasks == ["alerts.tasks.reconcile"]


def test_an_import_of_several_feeds_queues_one_reconciliation(
    feeds, queued_tasks, django_capture_on_commit_callbacks, tmp_path
):
    from monitoring.imports import import_feeds
    from monitoring.ingestion import Feed
    from tests.monitoring.csv_files import hours_file, polls_file

    files = {
        Feed.POLLS: polls_file(tmp_path, ["a,inactive,2023-01-25 11:00:00 UTC"]),
        Feed.HOURS: hours_file(tmp_path, ["a,2,09:00:00,12:00:00"]),
    }
    with django_capture_on_commit_callbacks(execute=True):
        import_feeds(files, source="command")

    assert queued_tasks == ["alerts.tasks.reconcile"]


def test_an_import_skipped_as_already_imported_queues_nothing(feeds, queued_tasks, django_capture_on_commit_callbacks):
    feeds.polls(*POLLS)

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        outcome = feeds.polls(*POLLS)  # the same content: the ledger skips it

    assert outcome.summary is None
    assert [entry.status for entry in outcome.imports] == ["skipped"]
    assert callbacks == []
    assert queued_tasks == []


def test_the_same_file_imported_again_with_force_queues_one(feeds, queued_tasks, django_capture_on_commit_callbacks):
    feeds.polls(*POLLS)

    with django_capture_on_commit_callbacks(execute=True):
        feeds.polls(*POLLS, force=True)

    assert queued_tasks == ["alerts.tasks.reconcile"]


def test_a_failed_import_queues_nothing(feeds, queued_tasks, django_capture_on_commit_callbacks):
    from monitoring.ingestion.errors import IngestionError

    with django_capture_on_commit_callbacks(execute=True), pytest.raises(IngestionError):
        feeds.polls(("a", "sleepy", "2023-01-25 10:00"))

    assert queued_tasks == []


def test_a_queue_that_is_down_does_not_fail_the_import(feeds, monkeypatch, django_capture_on_commit_callbacks, caplog):
    def broker_down(name, **options):
        raise ConnectionError("the broker is down")

    monkeypatch.setattr("alerts.tasks.async_task", broker_down)

    with django_capture_on_commit_callbacks(execute=True):
        outcome = feeds.polls(*POLLS)

    assert outcome.summary is not None
    assert "could not queue the reconciliation of incidents" in caplog.text


def test_the_task_reconciles_and_says_what_it_did(feeds, queued):
    from alerts import tasks

    feeds.polls(*POLLS)

    assert tasks.reconcile().startswith("Incidents as of 2023-01-25 11:00:00 UTC (1 outage in the lookback): 1 created")
    ReconcileState.objects.filter(pk=1).update(running_since=timezone.now(), runner="another worker")
    assert tasks.reconcile() == "another reconciliation is running; it goes round once more"
