"""Reports of one owner's stores: exactly that owner's stores, with the all-stores report's figures."""

import datetime as dt
import io

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from monitoring.models import BusinessHours, StatusPoll, Store, Timezone
from reports.actions import do_trigger_report
from reports.generation import NO_POLLS_IN_SCOPE, compute_report
from reports.models import Report
from reports.snapshot import lookback_start, read_snapshot
from tests.conftest import is_postgresql
from tests.factories import BusinessHoursFactory, OwnerFactory, StatusPollFactory, StoreFactory, TimezoneFactory
from tests.reports.conftest import at

pytestmark = pytest.mark.django_db
NOON = at("2023-01-25 12:00")


@pytest.fixture
def owned_examples(worked_examples, third_example):
    """The worked examples a, b and c: a and c are Alpha's, b is Beta's, and d (a copy of b's
    polls an hour later) has no owner."""
    alpha = OwnerFactory(name="Alpha Pizza", slug="alpha")
    beta = OwnerFactory(name="Beta Burgers", slug="beta")
    Store.objects.filter(store_id__in=["a", "c"]).update(owner=alpha)
    Store.objects.filter(store_id="b").update(owner=beta)
    d = StoreFactory(store_id="d")
    StatusPollFactory(store=d, timestamp_utc=at("2023-01-25 06:00"), status="inactive")
    StatusPollFactory(store=d, timestamp_utc=at("2023-01-25 11:45"), status="active")
    return alpha, beta


def run_report(capture, **parameters) -> Report:
    with capture(execute=True):
        report = do_trigger_report(**parameters)
    report.refresh_from_db()
    assert report.status == Report.Status.COMPLETE, report.error
    return report


def lines(file) -> list[str]:
    with file.open("rb") as stream:
        return stream.read().decode().splitlines()


def lines_of(csv_lines: list[str], store_ids: set[str]) -> list[str]:
    """The header and the lines of those stores, in the order they come."""
    return [csv_lines[0], *(line for line in csv_lines[1:] if line.split(",")[0] in store_ids)]


@pytest.mark.parametrize("columns", ["basic", "extended"])
@pytest.mark.parametrize("method", ["last_known", "nearest"])
def test_an_owners_report_holds_its_stores_with_the_all_stores_reports_figures_byte_for_byte(
    owned_examples, django_capture_on_commit_callbacks, columns, method
):
    alpha, beta = owned_examples
    every = run_report(django_capture_on_commit_callbacks, as_of=NOON, method=method, columns=columns)
    for owner, store_ids in ((alpha, {"a", "c"}), (beta, {"b"})):
        report = run_report(django_capture_on_commit_callbacks, as_of=NOON, method=method, columns=columns, owner=owner)
        assert report.store_count == len(store_ids)
        assert lines(report.csv_file) == lines_of(lines(every.csv_file), store_ids)
        assert {line.split(",")[0] for line in lines(report.csv_file)[1:]} == store_ids
        assert lines(report.outages_file) == lines_of(lines(every.outages_file), store_ids)
        # The dashboard's summary kept with it speaks of those stores only.
        assert report.summary["stores"] == len(store_ids)
        listed = {entry["store_id"] for entry in report.summary["attention"] + report.summary["offline_now"]}
        assert listed <= store_ids


def test_an_owners_report_without_a_time_is_as_of_the_newest_poll_of_its_stores(
    owned_examples, django_capture_on_commit_callbacks
):
    alpha, beta = owned_examples
    # a's newest poll is 11:15 and c's 10:30; b's 11:30 and d's 11:45 are not Alpha's.
    report = run_report(django_capture_on_commit_callbacks, owner=alpha, columns="extended")
    assert report.as_of == at("2023-01-25 11:15")
    every = run_report(django_capture_on_commit_callbacks, as_of=at("2023-01-25 11:15"), columns="extended")
    assert lines(report.csv_file) == lines_of(lines(every.csv_file), {"a", "c"})
    assert run_report(django_capture_on_commit_callbacks, owner=beta).as_of == at("2023-01-25 11:30")
    assert run_report(django_capture_on_commit_callbacks).as_of == at("2023-01-25 11:45")


def test_the_snapshot_of_an_owner_reads_only_its_stores_polls_hours_and_zones(owned_examples):
    alpha, _ = owned_examples
    snapshot = read_snapshot(NOON, dt.timedelta(days=14), owner_ids=[alpha.pk])
    feeds = snapshot.feeds
    assert feeds.store_ids == ["a", "c"]
    assert feeds.store_zones == ["UTC", "UTC"]
    assert len(feeds.poll_time_us) == StatusPoll.objects.filter(store__owner=alpha).count() == 6
    assert sorted(feeds.poll_store.tolist()) == [0, 0, 0, 1, 1, 1]
    assert len(feeds.hours_day) == BusinessHours.objects.filter(store__owner=alpha).count() == 3
    assert sorted(feeds.hours_store.tolist()) == [0, 1, 1]


def test_the_snapshot_of_several_owners_reads_their_stores_together(owned_examples):
    alpha, beta = owned_examples
    snapshot = read_snapshot(None, dt.timedelta(days=14), owner_ids=[alpha.pk, beta.pk])
    assert snapshot.feeds.store_ids == ["a", "b", "c"]
    assert snapshot.as_of == at("2023-01-25 11:30")  # b's, not d's 11:45
    assert snapshot.feeds.store_zones == ["UTC", "America/Chicago", "UTC"]


def test_an_owner_with_no_polls_gets_a_failed_report_saying_its_stores_have_none(
    owned_examples, django_capture_on_commit_callbacks
):
    gamma = OwnerFactory(name="Gamma Grill", slug="gamma")
    StoreFactory(store_id="g", owner=gamma)
    with django_capture_on_commit_callbacks(execute=True):
        report = do_trigger_report(owner=gamma)
    report.refresh_from_db()
    assert (report.status, report.error) == (Report.Status.FAILED, NO_POLLS_IN_SCOPE)


def test_an_empty_owners_report_names_only_its_own_poll_times(owned_examples, django_capture_on_commit_callbacks):
    gamma = OwnerFactory(name="Gamma Grill", slug="gamma")
    g = StoreFactory(store_id="g", owner=gamma)
    StatusPollFactory(store=g, timestamp_utc=at("2022-06-01 08:00"))
    StatusPollFactory(store=g, timestamp_utc=at("2022-06-02 09:30"))
    with django_capture_on_commit_callbacks(execute=True):
        report = do_trigger_report(owner=gamma, as_of=at("2022-07-01 00:00"))
    report.refresh_from_db()
    assert report.status == Report.Status.FAILED
    assert report.error == (
        "No store of Gamma Grill has a poll in the 14 days before 2022-07-01 00:00:00 UTC, so the report would be "
        "empty (the polls of Gamma Grill run from 2022-06-01 08:00:00 to 2022-06-02 09:30:00 UTC). Trigger a "
        "report with an as_of inside that range."
    )
    assert "2023" not in report.error  # the other owners' polls


def test_generate_report_with_owner_writes_that_owners_stores_only(owned_examples):
    every, alpha = io.StringIO(), io.StringIO()
    call_command("generate_report", "--as-of", "2023-01-25T12:00:00Z", "--columns", "extended", stdout=every)
    errors = io.StringIO()
    call_command(
        "generate_report", "--as-of", "2023-01-25T12:00:00Z", "--columns", "extended", "--owner", "alpha",
        stdout=alpha, stderr=errors,
    )  # fmt: skip
    assert alpha.getvalue().splitlines() == lines_of(every.getvalue().splitlines(), {"a", "c"})
    assert "2 stores of Alpha Pizza as of 2023-01-25T12:00:00+00:00" in errors.getvalue()


def test_generate_report_with_owner_defaults_to_the_newest_poll_of_its_stores(owned_examples):
    errors = io.StringIO()
    call_command("generate_report", "--owner", "beta", stdout=io.StringIO(), stderr=errors)
    assert "1 stores of Beta Burgers as of 2023-01-25T11:30:00+00:00" in errors.getvalue()


def test_generate_report_with_an_unknown_owner_is_a_one_line_error(owned_examples):
    with pytest.raises(CommandError) as raised:
        call_command("generate_report", "--owner", "nobody", stdout=io.StringIO())
    assert str(raised.value) == "--owner nobody: no owner has this slug (owners: alpha, beta)."


def test_the_report_of_several_owners_equals_the_all_stores_report_for_their_stores(owned_examples):
    alpha, beta = owned_examples
    both = list(compute_report(as_of=NOON, owner_ids=[alpha.pk, beta.pk]).figures.rows(extended=True))
    every = list(compute_report(as_of=NOON).figures.rows(extended=True))
    assert both == [row for row in every if row[0] in {"a", "b", "c"}]


@pytest.mark.postgres
def test_on_postgresql_an_owners_poll_read_can_use_the_time_index(owned_examples):
    """The owner filter is a join on the store: the time range still reaches the poll index
    (the planner prefers a sequential scan on tables this small, so it is turned off here)."""
    alpha, _ = owned_examples
    polls = StatusPoll.objects.filter(
        store__owner_id__in=[alpha.pk], timestamp_utc__gte=lookback_start(NOON, dt.timedelta(days=14))
    ).filter(timestamp_utc__lte=NOON)
    sql, params = polls.order_by().values_list("store_id", "timestamp_utc", "status").query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_indexscan = on")
        cursor.execute(f"EXPLAIN {sql}", params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert is_postgresql()
    assert "statuspoll_time_idx" in plan or "statuspoll_unique_store_time" in plan, plan


def test_an_owner_without_stores_reads_an_empty_snapshot(db):
    owner = OwnerFactory(slug="empty")
    BusinessHoursFactory(store=StoreFactory(store_id="x"))
    TimezoneFactory(store=StoreFactory(store_id="y"))
    snapshot = read_snapshot(None, dt.timedelta(days=14), owner_ids=[owner.pk])
    assert (snapshot.as_of, snapshot.feeds.store_ids, len(snapshot.feeds.hours_day)) == (None, [], 0)
    assert Timezone.objects.count() == 1  # y's zone exists, and is not read
