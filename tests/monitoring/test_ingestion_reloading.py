"""Data arrives every hour: polls accumulate without duplicates, hours and zones replace per store."""

import datetime as dt
import re

import pytest

from monitoring.ingestion import load_feeds
from monitoring.models import BusinessHours, StatusPoll, Store, Timezone
from tests.factories import BusinessHoursFactory, StatusPollFactory, TimezoneFactory
from tests.monitoring.csv_files import hours_file, polls_file, timezones_file

pytestmark = pytest.mark.django_db

UTC = dt.UTC


def poll_rows(store_ids, hours, status="active"):
    return [f"{store},{status},2023-01-25 {hour:02}:13:22.47922 UTC" for store in store_ids for hour in hours]


def hours_of(store_id):
    return sorted(
        BusinessHours.objects.filter(store__store_id=store_id).values_list(
            "day_of_week", "start_time_local", "end_time_local"
        )
    )


def test_reloading_the_same_file_adds_nothing(tmp_path):
    path = polls_file(tmp_path, poll_rows(["1", "2"], range(10)))
    load_feeds(polls=path)

    summary = load_feeds(polls=path)

    assert (summary.feeds[0].read, summary.feeds[0].inserted, summary.feeds[0].duplicates) == (20, 0, 20)
    assert summary.stores_created == 0
    assert StatusPoll.objects.count() == 20


def test_an_overlapping_file_adds_only_the_new_polls(tmp_path):
    load_feeds(polls=polls_file(tmp_path, poll_rows(["1", "2"], range(0, 10)), name="first.csv"))

    summary = load_feeds(polls=polls_file(tmp_path, poll_rows(["1", "2", "3"], range(5, 15)), name="second.csv"))

    assert (summary.feeds[0].inserted, summary.feeds[0].duplicates, summary.stores_created) == (20, 10, 1)
    assert StatusPoll.objects.count() == 40


def test_a_poll_repeated_in_one_file_is_stored_once_and_the_first_status_wins(tmp_path):
    path = polls_file(
        tmp_path,
        [
            "1,inactive,2023-01-25 10:00:00 UTC",
            "2,active,2023-01-25 10:00:00 UTC",
            "1,active,2023-01-25 10:00:00 UTC",
            "1,inactive,2023-01-25 10:00:00 UTC",
        ],
    )

    summary = load_feeds(polls=path)

    assert (summary.feeds[0].inserted, summary.feeds[0].duplicates) == (2, 2)
    assert StatusPoll.objects.get(store__store_id="1").status == "inactive"


def test_a_stored_poll_keeps_its_status_when_a_later_file_disagrees(tmp_path):
    load_feeds(polls=polls_file(tmp_path, ["1,active,2023-01-25 10:00:00 UTC"], name="a.csv"))

    load_feeds(polls=polls_file(tmp_path, ["1,inactive,2023-01-25 10:00:00 UTC"], name="b.csv"))

    assert StatusPoll.objects.get().status == "active"


def test_one_instant_written_in_different_ways_is_one_poll(tmp_path):
    spellings = [
        "2023-01-25 10:00:00.5 UTC",
        "2023-01-25 10:00:00.500000 UTC",
        "2023-01-25T10:00:00.5Z",
        "2023-01-25T04:00:00.5-06:00",
    ]
    for number, spelling in enumerate(spellings):
        load_feeds(polls=polls_file(tmp_path, [f"1,active,{spelling}"], name=f"{number}.csv"))

    assert list(StatusPoll.objects.values_list("timestamp_utc", flat=True)) == [
        dt.datetime(2023, 1, 25, 10, 0, 0, 500000, tzinfo=UTC)
    ]


@pytest.mark.parametrize("microsecond", [0, 479220])
def test_a_poll_saved_through_the_orm_is_recognised_when_a_file_repeats_it(tmp_path, microsecond):
    when = dt.datetime(2023, 1, 25, 18, 13, 22, microsecond, tzinfo=UTC)
    StatusPollFactory(store__store_id="1", timestamp_utc=when)
    text = f"2023-01-25 18:13:22{'.47922' if microsecond else ''} UTC"

    summary = load_feeds(polls=polls_file(tmp_path, [f"1,inactive,{text}"]))

    assert (summary.feeds[0].inserted, summary.feeds[0].duplicates) == (0, 1)
    # And the ORM finds loaded polls by their datetime.
    load_feeds(polls=polls_file(tmp_path, ["1,active,2023-01-25 18:13:23.000001 UTC"]))
    assert StatusPoll.objects.filter(timestamp_utc=when.replace(second=23, microsecond=1)).exists()


def test_an_hours_file_gives_each_store_it_mentions_exactly_its_rows_and_leaves_others_alone(tmp_path):
    BusinessHoursFactory(store__store_id="listed", day_of_week=0)
    BusinessHoursFactory(store__store_id="listed", day_of_week=1)
    BusinessHoursFactory(store__store_id="other", day_of_week=2)

    summary = load_feeds(hours=hours_file(tmp_path, ["listed,4,10:00:00,11:00:00", "new,5,12:00:00,13:00:00"]))

    assert hours_of("listed") == [(4, dt.time(10), dt.time(11))]
    assert hours_of("other") == [(2, dt.time(9), dt.time(17))]
    assert hours_of("new") == [(5, dt.time(12), dt.time(13))]
    assert (summary.feeds[0].inserted, summary.feeds[0].replaced, summary.stores_created) == (2, 2, 1)


def test_repeated_identical_hours_rows_are_all_kept(tmp_path):
    load_feeds(hours=hours_file(tmp_path, ["1,0,09:00:00,17:00:00", "1,0,09:00:00,17:00:00"]))

    assert hours_of("1") == [(0, dt.time(9), dt.time(17))] * 2


def test_reloading_an_hours_file_leaves_the_same_rows(tmp_path):
    path = hours_file(tmp_path, ["1,0,00:00:00,00:10:00", "1,0,11:00:00,23:59:00", "2,6,10:00,23:59:59"])
    load_feeds(hours=path)
    first = sorted(BusinessHours.objects.values_list("store__store_id", "day_of_week", "start_time_local"))

    load_feeds(hours=path)

    assert sorted(BusinessHours.objects.values_list("store__store_id", "day_of_week", "start_time_local")) == first


def test_a_timezones_file_sets_the_zone_of_the_stores_it_mentions_and_leaves_others_alone(tmp_path):
    TimezoneFactory(store__store_id="moved", timezone_str="America/Chicago")
    TimezoneFactory(store__store_id="same", timezone_str="America/Denver")
    TimezoneFactory(store__store_id="other", timezone_str="Asia/Beirut")

    summary = load_feeds(
        timezones=timezones_file(tmp_path, ["moved,America/New_York", "same,America/Denver", "new,Pacific/Honolulu"])
    )

    assert dict(Timezone.objects.values_list("store__store_id", "timezone_str")) == {
        "moved": "America/New_York",
        "same": "America/Denver",
        "other": "Asia/Beirut",
        "new": "Pacific/Honolulu",
    }
    feed = summary.feeds[0]
    assert (feed.read, feed.inserted, feed.updated, feed.duplicates) == (3, 1, 1, 0)
    assert (feed.stores_listed, feed.stores_given, feed.stores_changed, feed.stores_unchanged) == (3, 1, 1, 1)
    assert without_time(feed.describe()) == (
        "timezones timezones.csv: 3 read, 3 stores listed, 1 given a zone, 1 changed (their zone replaced), "
        "1 unchanged, 0 duplicates, 0 skipped"
    )


def test_a_store_listed_twice_with_the_same_zone_is_counted_once(tmp_path):
    summary = load_feeds(timezones=timezones_file(tmp_path, ["1,Asia/Beirut", "2,Asia/Beirut", "1,Asia/Beirut"]))

    feed = summary.feeds[0]
    assert (feed.inserted, feed.duplicates, feed.stores_listed, feed.stores_given) == (2, 1, 2, 2)
    assert Store.objects.get(store_id="1").timezone_name == "Asia/Beirut"


def test_reloading_an_unchanged_timezones_file_says_every_store_is_unchanged(tmp_path):
    path = timezones_file(tmp_path, ["1,Asia/Beirut", "2,America/Denver"])
    load_feeds(timezones=path)

    feed = load_feeds(timezones=path).feeds[0]

    assert without_time(feed.describe()) == (
        "timezones timezones.csv: 2 read, 2 stores listed, 0 given a zone, 0 changed (their zone replaced), "
        "2 unchanged, 0 duplicates, 0 skipped"
    )


# --- how many stores' hours a file changed --------------------------------------------------


def without_time(line: str) -> str:
    return re.sub(r" in \d+\.\d s$", "", line)


def hours_rows_by_id():
    return sorted(BusinessHours.objects.values_list("id", "store__store_id", "day_of_week", "start_time_local"))


def test_reloading_an_unchanged_hours_file_says_so_and_rewrites_no_row(tmp_path):
    path = hours_file(tmp_path, ["1,0,09:00:00,17:00:00", "1,1,09:00:00,17:00:00", "2,6,10:00,23:59:59"])
    load_feeds(hours=path)
    before = hours_rows_by_id()

    feed = load_feeds(hours=path).feeds[0]

    assert without_time(feed.describe()) == (
        "hours menu_hours.csv: 3 read, 2 stores listed, 0 given hours, 0 changed (their hours replaced), "
        "2 unchanged, 0 skipped"
    )
    assert (feed.inserted, feed.replaced) == (0, 0)
    assert hours_rows_by_id() == before


def test_an_hours_file_counts_the_stores_given_hours_changed_and_unchanged(tmp_path):
    BusinessHoursFactory(store__store_id="same", day_of_week=0)
    BusinessHoursFactory(store__store_id="moved", day_of_week=0)
    BusinessHoursFactory(store__store_id="moved", day_of_week=1)
    StatusPollFactory(store__store_id="polled only")  # a store without hours, open all the time
    rows = [
        # The same row in another spelling and another order of the file is the same hours.
        "same,0,09:00,17:00:00",
        "moved,1,09:00:00,17:00:00",
        "polled only,2,08:00:00,12:00:00",
        "new,3,08:00:00,12:00:00",
    ]

    feed = load_feeds(hours=hours_file(tmp_path, rows)).feeds[0]

    assert (feed.stores_listed, feed.stores_given, feed.stores_changed, feed.stores_unchanged) == (4, 2, 1, 1)
    # Only the stores whose hours changed are rewritten: moved lost its Monday.
    assert (feed.inserted, feed.replaced) == (3, 2)
    assert hours_of("moved") == [(1, dt.time(9), dt.time(17))]
    assert hours_of("same") == [(0, dt.time(9), dt.time(17))]
    assert hours_of("polled only") == [(2, dt.time(8), dt.time(12))]


@pytest.mark.parametrize(
    ("stored", "listed"),
    [
        (["1,0,09:00:00,17:00:00"] * 2, ["1,0,09:00:00,17:00:00"]),
        (["1,0,09:00:00,17:00:00"], ["1,0,09:00:00,17:00:00"] * 2),
        (["1,0,09:00:00,17:00:00", "1,1,09:00:00,17:00:00"], ["1,0,09:00:00,17:00:00", "1,0,09:00:00,17:00:00"]),
        (["1,0,09:00:00,17:00:00"], ["1,0,09:00:00,17:00:01"]),
    ],
    ids=["a repeat dropped", "a repeat added", "a row swapped for a repeat", "a second later"],
)
def test_hours_that_differ_only_in_a_repeated_row_or_a_second_are_changed(tmp_path, stored, listed):
    load_feeds(hours=hours_file(tmp_path, stored, name="first.csv"))

    feed = load_feeds(hours=hours_file(tmp_path, listed, name="second.csv")).feeds[0]

    assert (feed.stores_listed, feed.stores_changed, feed.stores_unchanged) == (1, 1, 0)
    assert BusinessHours.objects.count() == len(listed)
