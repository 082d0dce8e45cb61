"""Every spelling of the feeds that load_feeds accepts: the published files' quirks and ISO 8601."""

import datetime as dt

import pytest

from monitoring.ingestion import load_feeds
from monitoring.ingestion.errors import BadValue
from monitoring.ingestion.values import is_store_id, parse_timestamp
from monitoring.models import BusinessHours, StatusPoll, Store, Timezone
from reports.generation import parse_as_of
from tests.monitoring.csv_files import POLLS_HEADER, hours_file, polls_file, timezones_file, write_feed

pytestmark = pytest.mark.django_db

UTC = dt.UTC


def stored_polls():
    return sorted(
        (poll.store.store_id, poll.timestamp_utc, poll.status) for poll in StatusPoll.objects.select_related("store")
    )


def stored_hours():
    return sorted(
        (row.store.store_id, row.day_of_week, row.start_time_local, row.end_time_local)
        for row in BusinessHours.objects.select_related("store")
    )


def test_a_plain_polls_file_loads_every_row_with_utc_times(tmp_path):
    path = polls_file(tmp_path, ["1,active,2023-01-25 18:13:22.47922 UTC", "2,inactive,2023-01-24 09:00:00.5 UTC"])

    summary = load_feeds(polls=path)

    assert stored_polls() == [
        ("1", dt.datetime(2023, 1, 25, 18, 13, 22, 479220, tzinfo=UTC), "active"),
        ("2", dt.datetime(2023, 1, 24, 9, 0, 0, 500000, tzinfo=UTC), "inactive"),
    ]
    assert (summary.feeds[0].read, summary.feeds[0].inserted, summary.stores_created) == (2, 2, 2)


@pytest.mark.parametrize(
    "options",
    [
        {"bom": True},
        {"line_end": "\r\n"},
        {"final_newline": False},
        {"bom": True, "line_end": "\r\n", "final_newline": False},
    ],
    ids=["byte-order-mark", "crlf", "no-final-newline", "all-three"],
)
def test_a_byte_order_mark_crlf_line_ends_and_a_missing_final_newline_change_nothing(tmp_path, options):
    polls = polls_file(
        tmp_path, ["1,active,2023-01-25 18:13:22.47922 UTC", "1,active,2023-01-25 19:13:22 UTC"], **options
    )
    hours = hours_file(tmp_path, ["1,0,09:00:00,17:00:00", "1,6,10:00:00,23:59:59"], **options)
    zones = timezones_file(tmp_path, ["1,Asia/Beirut"], **options)

    load_feeds(polls=polls, hours=hours, timezones=zones)

    assert [poll[1].hour for poll in stored_polls()] == [18, 19]
    assert stored_hours() == [
        ("1", 0, dt.time(9), dt.time(17)),
        ("1", 6, dt.time(10), dt.time(23, 59, 59)),
    ]
    assert Store.objects.get(store_id="1").timezone_name == "Asia/Beirut"


def test_gzip_files_load_like_plain_ones_and_are_recognised_by_content(tmp_path):
    gz = polls_file(tmp_path, ["1,active,2023-01-25 18:13:22 UTC"], name="store_status.csv.gz")
    # A gzip file whose name does not say so.
    disguised = hours_file(tmp_path, ["1,0,09:00:00,17:00:00"], name="menu_hours.csv", compress=True)

    load_feeds(polls=gz, hours=disguised)

    assert len(stored_polls()) == 1
    assert len(stored_hours()) == 1


def test_columns_are_found_by_header_name_in_any_order_and_extra_columns_are_ignored(tmp_path):
    polls = write_feed(
        tmp_path / "polls.csv",
        ["timestamp_utc,note,STATUS,Store_ID", "2023-01-25 18:13:22 UTC,hello,inactive,7"],
    )
    hours = write_feed(
        tmp_path / "hours.csv",
        ["end_time_local,start_time_local,extra,day,store_id", "17:00:00,09:00:00,x,3,7"],
    )
    zones = write_feed(tmp_path / "zones.csv", ["timezone_str,country,store_id", "America/Denver,US,7"])

    load_feeds(polls=polls, hours=hours, timezones=zones)

    assert stored_polls() == [("7", dt.datetime(2023, 1, 25, 18, 13, 22, tzinfo=UTC), "inactive")]
    assert stored_hours() == [("7", 3, dt.time(9), dt.time(17))]
    assert Timezone.objects.get().timezone_str == "America/Denver"


@pytest.mark.parametrize("day_column", ["day", "dayOfWeek"])
def test_the_day_column_may_be_called_day_as_in_2023_or_dayofweek_as_in_2024(tmp_path, day_column):
    path = write_feed(
        tmp_path / "menu_hours.csv",
        [f"store_id,{day_column},start_time_local,end_time_local", "1,5,10:00:00,23:59:59"],
    )

    load_feeds(hours=path)

    assert stored_hours() == [("1", 5, dt.time(10), dt.time(23, 59, 59))]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2023-01-25 18:13:22 UTC", dt.datetime(2023, 1, 25, 18, 13, 22, tzinfo=UTC)),
        ("2023-01-25 18:13:22.47 UTC", dt.datetime(2023, 1, 25, 18, 13, 22, 470000, tzinfo=UTC)),
        ("2023-01-25 18:13:22.47922 UTC", dt.datetime(2023, 1, 25, 18, 13, 22, 479220, tzinfo=UTC)),
        ("2023-01-25 18:13:22.479221 UTC", dt.datetime(2023, 1, 25, 18, 13, 22, 479221, tzinfo=UTC)),
        ("2023-01-25T18:13:22Z", dt.datetime(2023, 1, 25, 18, 13, 22, tzinfo=UTC)),
        ("2023-01-25T18:13:22.5Z", dt.datetime(2023, 1, 25, 18, 13, 22, 500000, tzinfo=UTC)),
        ("2023-01-25T12:13:22-06:00", dt.datetime(2023, 1, 25, 18, 13, 22, tzinfo=UTC)),
        ("2023-01-26 00:43:22.000001+0530", dt.datetime(2023, 1, 25, 19, 13, 22, 1, tzinfo=UTC)),
        ("2023-01-25 18:13:22+00:00", dt.datetime(2023, 1, 25, 18, 13, 22, tzinfo=UTC)),
    ],
)
def test_timestamps_in_the_feed_format_or_iso_8601_with_a_zone_load_as_utc(tmp_path, text, expected):
    path = polls_file(tmp_path, [f"1,active,{text}"])

    load_feeds(polls=path)

    assert stored_polls() == [("1", expected, "active")]
    assert parse_timestamp(text) == expected


@pytest.mark.parametrize(
    ("zoneless", "with_zone"),
    [
        ("2023-01-25 18:13:22", "2023-01-25 18:13:22 UTC"),
        ("2023-01-25T18:13:22.47922", "2023-01-25T18:13:22.47922Z"),
        ("2023-01-25 18:13", "2023-01-25T18:13:00+00:00"),
    ],
)
def test_a_timestamp_without_a_zone_is_utc_as_report_times_are(tmp_path, zoneless, with_zone):
    load_feeds(polls=polls_file(tmp_path, [f"1,active,{zoneless}"]))

    assert stored_polls() == [("1", parse_timestamp(with_zone), "active")]
    # One rule for the whole service: the API, the pages and generate_report read as_of so too.
    assert parse_timestamp(zoneless) == parse_as_of(zoneless) == parse_as_of(with_zone)


@pytest.mark.parametrize("text", ["2023-01-25", "18:13:22 UTC", "2023-01-25 18:13:22.1234567 UTC", "2023-01-25 18"])
def test_timestamps_without_a_time_or_a_date_or_with_more_than_microseconds_are_refused(text):
    with pytest.raises(BadValue):
        parse_timestamp(text)


def test_business_hours_times_may_leave_out_the_seconds(tmp_path):
    path = hours_file(tmp_path, ["1,2,09:30,17:45", "1,3,09:30:15,17:45:00"])

    load_feeds(hours=path)

    assert stored_hours() == [
        ("1", 2, dt.time(9, 30), dt.time(17, 45)),
        ("1", 3, dt.time(9, 30, 15), dt.time(17, 45)),
    ]


def test_surrounding_spaces_and_upper_case_statuses_are_normalised(tmp_path):
    polls = polls_file(tmp_path, [" 42 , ACTIVE , 2023-01-25 18:13:22 UTC "])
    zones = timezones_file(tmp_path, ["42 , America/Chicago"])

    load_feeds(polls=polls, timezones=zones)

    assert stored_polls() == [("42", dt.datetime(2023, 1, 25, 18, 13, 22, tzinfo=UTC), "active")]
    assert Store.objects.get().timezone_name == "America/Chicago"


def test_blank_lines_are_ignored(tmp_path):
    path = write_feed(tmp_path / "store_status.csv", [POLLS_HEADER, "", "1,active,2023-01-25 18:13:22 UTC", "", ""])

    summary = load_feeds(polls=path)

    assert summary.feeds[0].read == 1
    assert len(stored_polls()) == 1


def test_store_ids_are_text_quoted_fields_and_backslashes_survive(tmp_path):
    ids = ["8139926242460185114", "d84a4552-3668-4075-ad1d-16840294f818", "a\\b", "with, comma"]
    rows = [f'"{store_id}",active,2023-01-25 18:13:22 UTC' for store_id in ids]
    path = polls_file(tmp_path, rows)

    load_feeds(polls=path)

    assert sorted(Store.objects.values_list("store_id", flat=True)) == sorted(ids)


def test_any_feed_creates_the_stores_it_mentions(tmp_path):
    load_feeds(
        polls=polls_file(tmp_path, ["p,active,2023-01-25 18:13:22 UTC"]),
        hours=hours_file(tmp_path, ["h,0,09:00:00,17:00:00", "p,0,09:00:00,17:00:00"]),
        timezones=timezones_file(tmp_path, ["z,America/Chicago"]),
    )

    assert sorted(Store.objects.values_list("store_id", flat=True)) == ["h", "p", "z"]
    assert StatusPoll.objects.get().store == BusinessHours.objects.get(store__store_id="p").store


def test_a_header_only_file_loads_nothing_without_error(tmp_path):
    summary = load_feeds(polls=write_feed(tmp_path / "store_status.csv", [POLLS_HEADER]))

    assert summary.feeds[0].read == 0
    assert summary.feeds[0].describe() == "polls store_status.csv: held no rows (only its header), so nothing changed"
    assert not StatusPoll.objects.exists()


@pytest.mark.parametrize(
    ("text", "is_one"),
    [
        ("8139926242460185114", True),
        ("f2b7c5a3-7d1e-4a33-9c4b-5f0e2d1a9b77", True),
        (" 813 ", False),  # the feeds' reader strips it; a URL holding spaces names no store
        ("", False),
        ("a\x00b", False),
        ("x" * 65, False),
    ],
)
def test_is_store_id_accepts_exactly_what_the_feeds_store(text, is_one):
    assert is_store_id(text) is is_one
