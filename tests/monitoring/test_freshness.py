"""Freshness figures: the newest poll, the last complete import, and the stores not reporting,
each case worked out by hand from the uptime rules (local hours, overnight rows, 24/7, DST)."""

import datetime as dt

import pytest

from monitoring.freshness import age_seconds, import_is_stale, latest_imports, newest_poll_time
from monitoring.models import Import, Store
from reports.freshness import stores_not_reporting, stores_open_at
from tests.factories import BusinessHoursFactory, StoreFactory, TimezoneFactory

pytestmark = pytest.mark.django_db

UTC = dt.UTC
WEDNESDAY, THURSDAY, MONDAY, SUNDAY = 2, 3, 0, 6
# Wednesday 25 January 2023, 18:00 UTC: the newest poll, so the data's "now".
NOW = dt.datetime(2023, 1, 25, 18, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def stale_after_90_minutes(settings):
    settings.STALE_AFTER_MINUTES = 90  # the bound is NOW - 90 min = 16:30 UTC


def store(store_id, last_poll, zone=None, hours=(), **fields):
    made = StoreFactory(store_id=store_id, last_polled_at=last_poll, **fields)
    if zone:
        TimezoneFactory(store=made, timezone_str=zone)
    for day, start, end in hours:
        BusinessHoursFactory(store=made, day_of_week=day, start_time_local=start, end_time_local=end)
    return made


def t(hour, minute=0):
    return dt.time(hour, minute)


def listed(result):
    return [(s.store_id, s.last_poll, s.zone) for s in result.stores]


def complete_import(finished_at, **fields):
    values = {
        "source": Import.Source.COMMAND,
        "name": "store_status.csv",
        "feed": "polls",
        "started_at": finished_at - dt.timedelta(seconds=5),
        "finished_at": finished_at,
        "status": Import.Status.COMPLETE,
        **fields,
    }
    return Import.objects.create(**values)


def test_stores_not_reporting_are_the_open_ones_silent_for_longer_than_the_bound():
    store("reporter", NOW)
    # 18:00 UTC = 13:00 in New York (EST): inside Wed 09:00-17:00, last poll 15:00 UTC -> listed.
    store("ny-open", NOW.replace(hour=15), "America/New_York", [(WEDNESDAY, t(9), t(17))])
    # 18:00 UTC = 10:00 in Los Angeles: before Wed 12:00-20:00 -> closed, not listed.
    store("la-closed", NOW.replace(hour=10), "America/Los_Angeles", [(WEDNESDAY, t(12), t(20))])
    # 18:00 UTC Wed = 03:00 Thu in Tokyo: inside Wednesday's overnight 22:00-04:00 -> listed.
    store("tokyo-overnight", NOW.replace(hour=12), "Asia/Tokyo", [(WEDNESDAY, t(22), t(4))])
    # The same hours on Thursday start at 22:00 Thursday: at 03:00 Thursday it is closed.
    store("tokyo-thursday", NOW.replace(hour=12), "Asia/Tokyo", [(THURSDAY, t(22), t(4))])
    # No hours rows: open 24/7; one second before the bound -> listed.
    store("always", dt.datetime(2023, 1, 25, 16, 29, 59, tzinfo=UTC))
    # Exactly at the bound is not older than it -> not listed.
    store("at-bound", dt.datetime(2023, 1, 25, 16, 30, tzinfo=UTC))
    # No zone row: America/Chicago, 18:00 UTC = 12:00 CST, inside 09:00-17:00 -> listed.
    store("default-zone", NOW.replace(hour=10), hours=[(WEDNESDAY, t(9), t(17))])
    # Never polled: it never started reporting -> not listed.
    store("never", None)

    result = stores_not_reporting()

    assert (result.as_of, result.bound) == (NOW, dt.datetime(2023, 1, 25, 16, 30, tzinfo=UTC))
    assert listed(result) == [
        ("always", dt.datetime(2023, 1, 25, 16, 29, 59, tzinfo=UTC), "America/Chicago"),
        ("default-zone", NOW.replace(hour=10), "America/Chicago"),
        ("ny-open", NOW.replace(hour=15), "America/New_York"),
        ("tokyo-overnight", NOW.replace(hour=12), "Asia/Tokyo"),
    ]
    assert result.count == 4


def test_the_list_is_cut_to_the_limit_by_store_id_and_the_count_is_of_them_all():
    store("reporter", NOW)
    for store_id in ("c", "a", "b"):
        store(store_id, NOW.replace(hour=1))

    result = stores_not_reporting(limit=2)

    assert ([s.store_id for s in result.stores], result.count, result.limit) == (["a", "b"], 3, 2)


def test_a_longer_bound_lists_fewer_stores(settings):
    settings.STALE_AFTER_MINUTES = 4 * 60  # bound 14:00 UTC
    store("reporter", NOW)
    store("three-hours", NOW.replace(hour=15))
    store("five-hours", NOW.replace(hour=13))

    assert [s.store_id for s in stores_not_reporting().stores] == ["five-hours"]


def test_no_polls_at_all_gives_no_answer():
    store("never", None)

    assert stores_not_reporting() is None
    assert newest_poll_time() is None


def test_after_the_us_change_to_summer_time_9_am_in_new_york_is_13_utc():
    hours = [(MONDAY, t(9), t(17))]
    store("ny", dt.datetime(2023, 3, 1, tzinfo=UTC), "America/New_York", hours)
    store("phoenix", dt.datetime(2023, 3, 1, tzinfo=UTC), "America/Phoenix", hours)  # no daylight saving

    # Monday 13 March 13:30 UTC: 09:30 EDT (open) and 06:30 MST (closed).
    summer = stores_not_reporting(as_of=dt.datetime(2023, 3, 13, 13, 30, tzinfo=UTC))
    # Monday 6 March 13:30 UTC: 08:30 EST (closed) and 06:30 MST (closed).
    winter = stores_not_reporting(as_of=dt.datetime(2023, 3, 6, 13, 30, tzinfo=UTC))
    # Monday 13 March 16:30 UTC: 12:30 EDT and 09:30 MST, both open.
    later = stores_not_reporting(as_of=dt.datetime(2023, 3, 13, 16, 30, tzinfo=UTC))

    assert [s.store_id for s in summer.stores] == ["ny"]
    assert winter.stores == []
    assert [s.store_id for s in later.stores] == ["ny", "phoenix"]


def test_a_session_across_the_skipped_hour_ends_at_its_local_end():
    # Sunday 12 March 2023, New York: 01:00 EST (06:00 UTC) to 03:00 EDT (07:00 UTC), one hour.
    hours = [("ny", SUNDAY, t(1), t(3))]
    zones = {"ny": "America/New_York"}

    def is_open(hour, minute=0, second=0, microsecond=0):
        moment = dt.datetime(2023, 3, 12, hour, minute, second, microsecond, tzinfo=UTC)
        return "ny" in stores_open_at(moment, zones, hours)

    assert not is_open(5, 59, 59)
    assert is_open(6)  # a session holds its start...
    assert is_open(6, 59, 59, 999999)
    assert not is_open(7)  # ...not its end


def test_several_intervals_a_day_leave_the_gaps_closed():
    hours = [("lunch-and-dinner", WEDNESDAY, t(11), t(14)), ("lunch-and-dinner", WEDNESDAY, t(17), t(22))]
    zones = {"lunch-and-dinner": "UTC"}

    def is_open(hour):
        return bool(stores_open_at(NOW.replace(hour=hour), zones, hours))

    assert [hour for hour in range(24) if is_open(hour)] == [11, 12, 13, 17, 18, 19, 20, 21]


def test_equal_start_and_end_mean_24_hours_from_the_start():
    hours = [("all-day", WEDNESDAY, t(6), t(6))]
    zones = {"all-day": "UTC"}

    assert stores_open_at(NOW.replace(hour=5), zones, hours) == set()
    assert stores_open_at(NOW.replace(hour=6), zones, hours) == {"all-day"}
    assert stores_open_at(NOW + dt.timedelta(hours=11, minutes=59), zones, hours) == {"all-day"}  # Thu 05:59
    assert stores_open_at(NOW + dt.timedelta(hours=12), zones, hours) == set()  # Thu 06:00


def test_an_owner_s_stores_are_judged_at_the_newest_poll_of_every_store(two_owners):
    Store.objects.filter(pk=two_owners.store_b.pk).update(last_polled_at=NOW)
    Store.objects.filter(pk=two_owners.store_a.pk).update(last_polled_at=NOW.replace(hour=12))
    Store.objects.filter(pk=two_owners.store_none.pk).update(last_polled_at=NOW.replace(hour=11))

    of_a = stores_not_reporting(Store.objects.filter(owner=two_owners.owner_a))
    of_b = stores_not_reporting(Store.objects.filter(owner=two_owners.owner_b))

    # Owner A's only store went quiet: still listed, at owner B's store's newest poll.
    assert (of_a.as_of, [s.store_id for s in of_a.stores], of_a.count) == (NOW, ["store-a"], 1)
    assert (of_b.stores, of_b.count) == ([], 0)
    assert [s.store_id for s in stores_not_reporting().stores] == ["store-a", "store-none"]


def test_the_newest_poll_of_some_stores_or_of_all():
    a = store("a", NOW.replace(hour=10))
    store("b", NOW)
    store("never", None)

    assert newest_poll_time() == NOW
    assert newest_poll_time(Store.objects.filter(pk=a.pk)) == NOW.replace(hour=10)
    assert newest_poll_time(Store.objects.filter(store_id="never")) is None


def test_age_is_whole_seconds_to_the_clock():
    assert age_seconds(NOW, NOW + dt.timedelta(minutes=2, seconds=3, microseconds=900000)) == 123
    assert age_seconds(None, NOW) is None


def test_an_import_older_than_the_bound_is_stale():
    assert import_is_stale(None, NOW)
    assert not import_is_stale(complete_import(NOW - dt.timedelta(minutes=90)), NOW)
    assert import_is_stale(complete_import(NOW - dt.timedelta(minutes=90, seconds=1)), NOW)


def test_the_latest_imports_are_the_newest_ledger_rows_of_any_status():
    for minutes in range(12):
        complete_import(NOW - dt.timedelta(minutes=minutes), name=f"file-{minutes}.csv")
    Import.objects.filter(name="file-1.csv").update(status=Import.Status.FAILED, error="line 2: bad status")

    names = [entry.name for entry in latest_imports()]

    assert names == [f"file-{minutes}.csv" for minutes in range(10)]


# --- The dashboard's "Data freshness" section -----------------------------------------------


@pytest.fixture
def quiet_stores(two_owners, tmp_path, settings):
    """Loaded polls: store-b until 18:00 (the newest), store-a until 15:00, store-none until 13:00;
    all open 24/7, so store-a and store-none are not reporting."""
    from monitoring.ingestion import load_feeds
    from tests.monitoring.csv_files import polls_file

    settings.ALLOW_ANONYMOUS = False
    rows = [
        *(f"store-b,active,2023-01-25 {hour}:00:00 UTC" for hour in (16, 17, 18)),
        *(f"store-a,active,2023-01-25 {hour}:00:00 UTC" for hour in (14, 15)),
        "store-none,inactive,2023-01-25 13:00:00 UTC",
    ]
    load_feeds(polls=polls_file(tmp_path, rows))
    return two_owners


def freshness_section(client):
    page = client.get("/").content.decode()
    start = page.index('<section class="panel" id="freshness">')
    return page[start : page.index("</section>", start)]


def test_staff_see_the_newest_poll_the_last_import_the_silent_stores_and_the_latest_imports(client, quiet_stores):
    entry = complete_import(dt.datetime(2023, 1, 25, 18, 5, tzinfo=UTC), name="store_status.csv")
    client.force_login(quiet_stores.staff)

    section = freshness_section(client)

    assert "<h2>Data freshness</h2>" in section
    assert "Newest poll: <time" in section
    assert "2023-01-25 18:00:00 UTC</time>" in section
    assert 'id="freshness-import">Last complete import: <time' in section
    assert "2023-01-25 18:05:00 UTC" in section
    assert "/api/status</a> answers 503" in section  # that import is years old
    assert "and silent for more than 90 minutes: 2 stores." in section
    assert '<a class="store-id" href="/stores/store-a/">store-a</a>' in section
    assert '<a class="store-id" href="/stores/store-none/">store-none</a>' in section
    assert "store-b</a>" not in section
    # The ledger row links to the admin under its start, 5 s before it finished.
    assert (
        f'<a href="/admin/monitoring/import/{entry.pk}/change/" title="2023-01-25 18:04:55 UTC">Jan 25 18:04</a>'
        in section
    )
    assert "<h3>Latest imports</h3>" in section


def test_an_owner_sees_only_its_own_silent_store_and_no_import(client, quiet_stores):
    complete_import(dt.datetime(2023, 1, 25, 18, 5, tzinfo=UTC))
    client.force_login(quiet_stores.user_a)

    section = freshness_section(client)

    assert "Newest poll of your stores: <time" in section
    assert "2023-01-25 15:00:00 UTC" in section
    assert "at 2023-01-25 18:00:00 UTC (the newest poll)" in section  # judged at every store's newest poll
    assert ": 1 store." in section
    assert '<a class="store-id" href="/stores/store-a/">store-a</a>' in section
    assert "store-none" not in section
    assert "Last complete import" not in section
    assert "Latest imports" not in section
    assert "/admin/monitoring/import/" not in section


def test_the_other_owner_sees_no_silent_store(client, quiet_stores):
    client.force_login(quiet_stores.user_b)

    section = freshness_section(client)

    assert ": 0 stores." in section
    assert 'id="not-reporting-list"' not in section


def test_a_fresh_import_shows_no_warning_and_an_empty_database_says_so(client, two_owners):
    from django.utils import timezone

    complete_import(timezone.now() - dt.timedelta(minutes=5))
    client.force_login(two_owners.staff)

    section = freshness_section(client)

    assert "answers 503" not in section
    assert "Newest poll: none yet." in section
    assert "No store has polled yet." in section


def test_the_answer_is_cached_per_newest_poll_but_a_store_that_polled_since_leaves_it():
    store("reporter", NOW)
    quiet = store("quiet", NOW.replace(hour=12))
    store("closed", NOW.replace(hour=12), "UTC", [(MONDAY, t(9), t(17))])
    assert [s.store_id for s in stores_not_reporting().stores] == ["quiet"]

    # New hours are seen at the next computation (a new newest poll, or within a minute)...
    BusinessHoursFactory(store=quiet, day_of_week=MONDAY, start_time_local=t(9), end_time_local=t(17))
    assert [s.store_id for s in stores_not_reporting().stores] == ["quiet"]
    assert stores_not_reporting(as_of=NOW + dt.timedelta(seconds=1)).stores == []

    # ...but a poll since then counts at once.
    Store.objects.filter(pk=quiet.pk).update(last_polled_at=NOW)
    assert stores_not_reporting().stores == []


def test_a_cache_that_is_down_only_costs_the_recomputation():
    from unittest import mock

    store("reporter", NOW)
    store("quiet", NOW.replace(hour=12))

    with (
        mock.patch("reports.freshness.cache.get", side_effect=ConnectionError("Redis is down")),
        mock.patch("reports.freshness.cache.set", side_effect=ConnectionError("Redis is down")),
    ):
        assert [s.store_id for s in stores_not_reporting().stores] == ["quiet"]
