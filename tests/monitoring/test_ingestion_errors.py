"""Bad input stops the whole run with a message naming file, line and field, and keeps nothing."""

import csv
import datetime as dt
import gzip

import pytest

from monitoring.ingestion import Feed, IngestionError, InvalidRow, load_feeds
from monitoring.ingestion.reading import FeedReader
from monitoring.models import BusinessHours, StatusPoll, Store, Timezone
from tests.factories import BusinessHoursFactory, StatusPollFactory, TimezoneFactory
from tests.monitoring.csv_files import (
    HOURS_HEADER,
    POLLS_HEADER,
    TIMEZONES_HEADER,
    hours_file,
    polls_file,
    timezones_file,
    write_feed,
)

pytestmark = pytest.mark.django_db

GOOD_POLL = "1,active,2023-01-25 18:13:22.47922 UTC"
GOOD_HOURS = "1,0,09:00:00,17:00:00"
GOOD_ZONE = "1,America/New_York"


def database_contents():
    return (
        sorted(Store.objects.values_list("store_id", flat=True)),
        sorted(StatusPoll.objects.values_list("store__store_id", "timestamp_utc", "status")),
        sorted(
            BusinessHours.objects.values_list("store__store_id", "day_of_week", "start_time_local", "end_time_local")
        ),
        sorted(Timezone.objects.values_list("store__store_id", "timezone_str")),
    )


def load_error(**files) -> IngestionError:
    with pytest.raises(IngestionError) as caught:
        load_feeds(**files)
    return caught.value


BAD_ROWS = [
    # feed, bad row, field, words the message must contain
    (
        "polls",
        "1,asleep,2023-01-25 18:13:22 UTC",
        "status",
        "'asleep' is not a status (expected active or inactive)",
    ),
    (
        "polls",
        "1,active,2023-13-01 00:00:00 UTC",
        "timestamp_utc",
        "'2023-13-01 00:00:00 UTC' is not a timestamp (expected e.g. 2023-01-25 18:13:22.47922 UTC)",
    ),
    ("polls", "1,active,yesterday", "timestamp_utc", "'yesterday' is not a timestamp"),
    ("polls", ",active,2023-01-25 18:13:22 UTC", "store_id", "the store id is empty"),
    ("polls", f"{'9' * 65},active,2023-01-25 18:13:22 UTC", "store_id", "a store id has at most 64"),
    ("hours", "1,7,09:00:00,17:00:00", "day", "'7' is outside 0..6"),
    ("hours", "1,-1,09:00:00,17:00:00", "day", "'-1' is outside 0..6"),
    ("hours", "1,Monday,09:00:00,17:00:00", "day", "'Monday' is not a day of the week"),
    ("hours", "1,0,9am,17:00:00", "start_time_local", "'9am' is not a time of day"),
    ("hours", "1,0,09:00:00,24:00:00", "end_time_local", "'24:00:00' is not a time of day"),
    ("timezones", "1,Mars/Olympus_Mons", "timezone_str", "'Mars/Olympus_Mons' is not a time zone"),
    ("timezones", ",America/Chicago", "store_id", "the store id is empty"),
]
HEADERS = {"polls": POLLS_HEADER, "hours": HOURS_HEADER, "timezones": TIMEZONES_HEADER}
GOOD_ROWS = {"polls": GOOD_POLL, "hours": GOOD_HOURS, "timezones": GOOD_ZONE}


@pytest.mark.parametrize(("feed", "bad_row", "field", "message"), BAD_ROWS)
def test_a_malformed_value_names_file_line_and_field(tmp_path, feed, bad_row, field, message):
    path = write_feed(tmp_path / f"{feed}.csv", [HEADERS[feed], GOOD_ROWS[feed], GOOD_ROWS[feed], bad_row])

    error = load_error(**{feed: path})

    assert isinstance(error, InvalidRow)
    assert (error.file_name, error.line, error.field) == (f"{feed}.csv", 4, field)
    assert str(error).startswith(f"{feed}.csv line 4, field {field}: ")
    assert message in str(error)


def test_the_issue_s_example_message_comes_out_word_for_word(tmp_path):
    rows = [GOOD_POLL.replace("18:13", f"18:{minute:02}") for minute in range(15)]
    path = polls_file(tmp_path, [*rows, "1,active,2023-13-01 00:00:00 UTC"])

    assert str(load_error(polls=path)) == (
        "store_status.csv line 17, field timestamp_utc: '2023-13-01 00:00:00 UTC' is not a timestamp "
        "(expected e.g. 2023-01-25 18:13:22.47922 UTC)"
    )


@pytest.mark.parametrize(
    ("bad_row", "fields"),
    [("1", "1 field"), ("1,active", "2 fields"), ("1,active,2023-01-25 18:13:22 UTC,x", "4 fields")],
)
def test_a_row_with_the_wrong_number_of_fields_is_refused(tmp_path, bad_row, fields):
    error = load_error(polls=polls_file(tmp_path, [GOOD_POLL, bad_row]))

    assert (error.line, error.field) == (3, None)
    assert str(error) == f"store_status.csv line 3: {fields} where the header has 3 (store_id,status,timestamp_utc)"


def test_line_numbers_are_physical_lines_counting_blank_lines_crlf_and_a_byte_order_mark(tmp_path):
    path = write_feed(
        tmp_path / "store_status.csv.gz",
        [POLLS_HEADER, GOOD_POLL, "", "1,active,2023-01-25 19:00:00 UTC", "1,on,2023-01-25 20:00:00 UTC"],
        bom=True,
        line_end="\r\n",
    )

    error = load_error(polls=path)

    assert str(error).startswith("store_status.csv.gz line 5, field status: ")


def test_a_missing_required_column_is_named(tmp_path):
    path = write_feed(tmp_path / "menu_hours.csv", ["store_id,day,start_time_local", "1,0,09:00:00"])

    error = load_error(hours=path)

    assert (error.line, error.field) == (1, "end_time_local")
    assert "the header has no end_time_local column" in str(error)


def test_a_file_without_a_header_is_refused_for_its_missing_columns(tmp_path):
    error = load_error(polls=write_feed(tmp_path / "store_status.csv", [GOOD_POLL]))

    assert str(error).startswith("store_status.csv line 1, field store_id: the header has no store_id column")


def test_an_empty_file_is_refused(tmp_path):
    path = tmp_path / "timezones.csv"
    path.write_bytes(b"")

    error = load_error(timezones=path)

    assert str(error) == (
        "timezones.csv line 1: the file is empty; it needs a header line such as store_id,timezone_str"
    )


def test_a_column_named_twice_is_refused(tmp_path):
    path = write_feed(tmp_path / "menu_hours.csv", ["store_id,day,dayOfWeek,start_time_local,end_time_local"])

    assert "names this column 2 times" in str(load_error(hours=path))


def test_a_file_that_is_not_utf8_names_the_first_bad_line(tmp_path):
    path = tmp_path / "timezones.csv"
    path.write_bytes(b"store_id,timezone_str\n1,America/Chicago\n2,Am\xe9rica/Chicago\n")

    error = load_error(timezones=path)

    assert str(error) == "timezones.csv line 3: is not UTF-8 text; save it as UTF-8"


def test_a_truncated_gzip_file_is_refused(tmp_path):
    path = tmp_path / "store_status.csv.gz"
    data = gzip.compress(("\n".join([POLLS_HEADER] + [GOOD_POLL] * 1000) + "\n").encode())
    path.write_bytes(data[: len(data) // 2])

    assert "cannot be read to the end" in str(load_error(polls=path))


def test_a_missing_file_is_refused(tmp_path):
    assert "cannot open" in str(load_error(polls=tmp_path / "nowhere.csv"))


def test_two_different_zones_for_one_store_in_one_file_are_refused_naming_both_lines(tmp_path):
    path = timezones_file(tmp_path, ["1,America/Chicago", "2,America/Denver", "1,Asia/Beirut"])

    assert str(load_error(timezones=path)) == (
        "timezones.csv line 4, field timezone_str: store 1 already has 'America/Chicago' on line 2, "
        "here 'Asia/Beirut'; a store has one time zone, so keep one of the two rows"
    )


def test_nothing_of_the_run_is_kept_including_files_loaded_before_the_bad_one(tmp_path):
    StatusPollFactory(store__store_id="old", timestamp_utc=dt.datetime(2023, 1, 1, tzinfo=dt.UTC))
    BusinessHoursFactory(store__store_id="old")
    TimezoneFactory(store__store_id="old", timezone_str="Asia/Beirut")
    before = database_contents()
    # Time zones and hours load first and are fine; the polls file fails on its last row.
    zones = timezones_file(tmp_path, ["old,America/Denver", "new,America/Chicago"])
    hours = hours_file(tmp_path, ["old,1,08:00:00,12:00:00", "new,2,08:00:00,12:00:00"])
    polls = polls_file(tmp_path, ["new,active,2023-01-25 18:13:22 UTC", "old,active,2023-01-25 18:13:22 UTC", "x,y,z"])

    with pytest.raises(InvalidRow, match="store_status.csv line 4, field status"):
        load_feeds(polls=polls, hours=hours, timezones=zones)

    assert database_contents() == before


def test_a_good_run_after_a_failed_one_loads_normally(tmp_path):
    with pytest.raises(InvalidRow):
        load_feeds(polls=polls_file(tmp_path, [GOOD_POLL, "1,active,never"]))

    load_feeds(polls=polls_file(tmp_path, [GOOD_POLL]))

    assert StatusPoll.objects.count() == 1


# --- files saved with another separator ---------------------------------------------------------

SEPARATORS = [(";", "“;”"), ("\t", "tabs"), ("|", "“|”")]


@pytest.mark.parametrize(("separator", "named"), SEPARATORS, ids=["semicolons", "tabs", "pipes"])
@pytest.mark.parametrize(("feed", "header"), [("polls", POLLS_HEADER), ("timezones", "timezone_str,store_id")])
def test_a_file_separated_by_another_character_is_told_so(tmp_path, separator, named, feed, header):
    name = {"polls": "store_status.csv", "timezones": "timezones.csv"}[feed]
    path = write_feed(tmp_path / name, [header.replace(",", separator), GOOD_ROWS[feed].replace(",", separator)])

    error = load_error(**{feed: path})

    assert str(error) == f"{name} line 1: the columns are separated by {named}; the feeds use commas"


def test_a_row_separated_by_another_character_is_told_so(tmp_path):
    path = polls_file(tmp_path, [GOOD_POLL, GOOD_POLL.replace(",", ";")])

    assert str(load_error(polls=path)) == (
        "store_status.csv line 3: the fields of this line are separated by “;”; the feeds use commas"
    )


def test_a_header_with_a_column_missing_is_not_taken_for_another_separator(tmp_path):
    path = write_feed(tmp_path / "store_status.csv", ["store_id;status", "1;active"])

    assert str(load_error(polls=path)).startswith(
        "store_status.csv line 1, field store_id: the header has no store_id column (it has store_id;status; "
    )


# --- quotes ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "bad_row",
    ['"4,active,2023-01-25 18:13:22 UTC', '4,"active,2023-01-25 18:13:22 UTC', '4,active,"2023-01-25'],
    ids=["in the first field", "in the second field", "in the last field"],
)
@pytest.mark.parametrize("skip_invalid", [False, True], ids=["stopping", "skipping"])
def test_a_quote_never_closed_is_named_on_its_line_and_stops_the_file(tmp_path, bad_row, skip_invalid):
    rows = [GOOD_POLL, GOOD_POLL, bad_row, "5,active,2023-01-25 18:13:22 UTC", "6,active,2023-01-25 18:13:22 UTC"]
    path = polls_file(tmp_path, rows)

    error = load_error(polls=path, skip_invalid=skip_invalid)

    # Not a skippable row: the rest of the file was read into the quoted field.
    assert not isinstance(error, InvalidRow)
    assert str(error) == (
        "store_status.csv line 4: a quote opened here is never closed, so the row takes in every line to the end "
        "of the file (line 6); close the quote or remove it"
    )
    assert not StatusPoll.objects.exists()


def test_a_quote_closed_on_a_later_line_is_an_invalid_row_of_those_lines(tmp_path):
    rows = [GOOD_POLL, '2,"active,2023-01-25 18:13:22 UTC', '3,active",2023-01-25 18:13:22 UTC', "4,active,2023-01-25"]
    path = polls_file(tmp_path, [*rows, "5,active,2023-01-25 18:13:22 UTC"])

    summary = load_feeds(polls=path, skip_invalid=True)

    assert summary.feeds[0].skip_reasons == [
        "store_status.csv line 3, field status: a quote opened here closes only on line 4, so lines 3 and 4 read as "
        "one row: 'active,2023-01-25 18:13:22 UTC\\n3,active' is not a status (expected active or inactive)",
        "store_status.csv line 5, field timestamp_utc: '2023-01-25' is not a timestamp "
        "(expected e.g. 2023-01-25 18:13:22.47922 UTC)",
    ]
    assert sorted(StatusPoll.objects.values_list("store__store_id", flat=True)) == ["1", "5"]


def test_a_quote_in_the_header_never_closed_is_named(tmp_path):
    path = write_feed(tmp_path / "store_status.csv", ['"store_id,status,timestamp_utc', GOOD_POLL])

    assert str(load_error(polls=path)) == (
        "store_status.csv line 1: a quote opened here is never closed, so the header takes in every line to the end "
        "of the file (line 2); close the quote or remove it"
    )


# --- the header line -----------------------------------------------------------------------------


def test_a_blank_first_line_is_refused_as_a_missing_header(tmp_path):
    path = write_feed(tmp_path / "store_status.csv", ["", POLLS_HEADER, GOOD_POLL])

    assert str(load_error(polls=path)) == (
        "store_status.csv line 1: the first line is blank; it must be the header, such as store_id,status,timestamp_utc"
    )


def test_a_long_header_is_quoted_by_its_start_and_length(tmp_path):
    path = write_feed(tmp_path / "store_status.csv", ["x" * 5000, GOOD_POLL])

    assert str(load_error(polls=path)) == (
        f"store_status.csv line 1, field store_id: the header has no store_id column (it has {'x' * 100}... "
        "(5,000 characters); expected store_id,status,timestamp_utc)"
    )


# --- the csv module's own limit ----------------------------------------------------------------


def test_a_field_over_a_field_limit_lowered_by_other_code_is_a_sentence_with_its_line(tmp_path):
    path = timezones_file(tmp_path, [GOOD_ZONE, f"2,{'x' * 2000}", "3,Asia/Beirut"])
    with FeedReader(path, Feed.TIMEZONES, max_line_chars=1 << 20, skip_invalid=True) as reader:
        rows = reader.rows()
        first = next(rows)
        # The limit is the whole process's: a library lowering it meanwhile is not ours to stop.
        csv.field_size_limit(1000)
        rest = list(rows)

    assert [first, *rest] == [("1", "America/New_York"), ("3", "Asia/Beirut")]
    assert reader.skip_reasons == [
        "timezones.csv line 3: a field is longer than 1,000 characters, the most the CSV reader was allowed to read; "
        "a feed field is a few dozen characters"
    ]
