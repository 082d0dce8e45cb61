"""manage.py reconcile_incidents: the reconciliation an import runs, by hand, at the newest time or --as-of."""

import datetime as dt
import io

import pytest
from django.core.management import CommandError, call_command

from alerts.models import Incident, ReconcileState
from tests.factories import BusinessHoursFactory, StatusPollFactory, StoreFactory, TimezoneFactory
from tests.manage_py import manage_py

UTC = dt.UTC


def reconcile_command(*args) -> str:
    out = io.StringIO()
    call_command("reconcile_incidents", *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def offline_store(db):
    """Store a in UTC, open Wednesdays 09:00-12:00: active at 10:00 on 2023-01-25, inactive at 11:00."""
    store = StoreFactory(store_id="a")
    TimezoneFactory(store=store, timezone_str="UTC")
    BusinessHoursFactory(store=store, day_of_week=2, start_time_local=dt.time(9), end_time_local=dt.time(12))
    for when, status in [("10:00", "active"), ("11:00", "inactive")]:
        StatusPollFactory(
            store=store, timestamp_utc=dt.datetime.fromisoformat(f"2023-01-25 {when}+00:00"), status=status
        )
    return store


def test_it_reconciles_at_the_newest_poll_and_prints_what_changed(offline_store, queued):
    output = reconcile_command()

    assert output.startswith(
        "Incidents as of 2023-01-25 11:00:00 UTC (1 outage in the lookback): 1 created, 0 updated, "
        "0 unchanged, 0 deleted, 0 retracted; 1 opened, 0 ended; "
    )
    incident = Incident.objects.get()
    assert (incident.started_at, incident.ended_at) == (dt.datetime(2023, 1, 25, 11, tzinfo=UTC), None)
    # Twice changes nothing.
    assert "): 0 created, 0 updated, 1 unchanged, 0 deleted, 0 retracted; 0 opened, 0 ended; " in reconcile_command()


def test_as_of_reconciles_at_that_time(offline_store, queued):
    reconcile_command()

    # No poll since 11:00, but by 12:30 the store has closed: its incident ended at closing time.
    output = reconcile_command("--as-of", "2023-01-25 12:30:00 UTC")

    assert output.startswith("Incidents as of 2023-01-25 12:30:00 UTC (1 outage in the lookback): 0 created, 1 updated")
    incident = Incident.objects.get()
    assert (incident.ended_at, incident.ended_by) == (dt.datetime(2023, 1, 25, 12, tzinfo=UTC), "session_closed")


def test_as_of_not_after_the_newest_poll_is_refused(offline_store):
    reconcile_command()

    with pytest.raises(CommandError, match=r"^--as-of 2023-01-25T11:00:00\+00:00 is not after the newest poll "):
        reconcile_command("--as-of", "2023-01-25T11:00:00Z")

    assert Incident.objects.open().count() == 1


def test_as_of_that_is_not_a_time_is_refused_with_how_to_write_it(offline_store):
    with pytest.raises(CommandError, match=r"^--as-of “yesterday” is not a time: write it like 2023-01-25T18:13:22Z"):
        reconcile_command("--as-of", "yesterday")


def test_as_of_without_polls_in_its_lookback_is_refused(offline_store):
    with pytest.raises(CommandError, match=r"^--as-of 2022-01-01 00:00:00 UTC has no poll in the 14 days before it"):
        reconcile_command("--as-of", "2022-01-01")
    assert not Incident.objects.exists()


def test_without_polls_it_says_so(db):
    assert reconcile_command() == "No polls yet: no incidents to reconcile.\n"


def test_while_another_reconciliation_runs_it_asks_that_one_to_go_round_once_more(offline_store):
    ReconcileState.objects.create(pk=1, running_since=dt.datetime.now(UTC), runner="worker-1")

    output = reconcile_command()

    assert output == "Another reconciliation is running: it goes round once more, so nothing is left out.\n"
    assert ReconcileState.objects.get().rerun_requested
    assert not Incident.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_at_the_command_line_a_bad_time_is_one_line_and_exit_status_1():
    finished = manage_py("reconcile_incidents", "--as-of", "soon")
    assert finished.returncode == 1
    assert finished.stderr.strip().splitlines() == [
        "CommandError: --as-of “soon” is not a time: write it like 2023-01-25T18:13:22Z (UTC when no offset is given)."
    ]
