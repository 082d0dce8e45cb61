"""What a load refuses so that no feed value poisons a report: poll times outside 2000-01-01 ..
MAX_FUTURE_MINUTES after the load, and rows longer than MAX_FEED_LINE_CHARS (in constant memory)."""

import csv
import datetime as dt
import gzip
import tracemalloc

import pytest
from django.core.management import CommandError, call_command

from monitoring.ingestion import IngestionError, InvalidRow, load_feeds
from monitoring.ingestion.loading import allowed_poll_times
from monitoring.models import StatusPoll
from tests.monitoring.csv_files import POLLS_HEADER, TIMEZONES_HEADER, polls_file, write_feed

pytestmark = pytest.mark.django_db
UTC = dt.UTC
LOADED_AT = dt.datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
GOOD_POLL = "1,active,2023-01-25 18:13:22.47922 UTC"
LIMIT = 1024


@pytest.fixture
def small_lines(settings):
    """Rows of at most 1,024 characters, the smallest limit the setting allows."""
    settings.MAX_FEED_LINE_CHARS = LIMIT
    return LIMIT


def load_error(**options) -> IngestionError:
    with pytest.raises(IngestionError) as caught:
        load_feeds(loaded_at=LOADED_AT, **options)
    return caught.value


def feed_text(moment: dt.datetime) -> str:
    return f"{moment:%Y-%m-%d %H:%M:%S.%f} UTC"


# --- poll times ---


@pytest.mark.parametrize(
    "timestamp",
    [
        "9999-12-31 23:59:59 UTC",  # the issue's row
        "0001-01-01 00:00:00 UTC",
        "1999-12-31 23:59:59.999999 UTC",
        "9999-12-31T23:00:00-05:00",  # in the year 10000 once in UTC
        "0001-01-01T00:30:00+01:00",  # in the year 0 once in UTC
        "2024-05-01T13:00:00.000001Z",
    ],
)
@pytest.mark.parametrize("known_store", [True, False], ids=["fast path", "careful path"])
def test_a_poll_time_outside_the_allowed_range_is_an_invalid_row_naming_the_range(tmp_path, timestamp, known_store):
    # A store already seen in the file takes the fast path for the feed's own spelling; the
    # first row of a store always takes the careful one.
    rows = [GOOD_POLL] if known_store else []
    path = polls_file(tmp_path, [*rows, f"1,active,{timestamp}"])

    error = load_error(polls=path)

    assert isinstance(error, InvalidRow)
    assert (error.line, error.field) == (len(rows) + 2, "timestamp_utc")
    assert str(error) == (
        f"store_status.csv line {len(rows) + 2}, field timestamp_utc: {timestamp!r} is outside the poll times "
        "this load accepts, 2000-01-01 00:00:00 UTC to 2024-05-01 13:00:00 UTC (60 minutes after the load "
        "started, setting MAX_FUTURE_MINUTES); correct the time, or the clock that wrote it"
    )
    assert not StatusPoll.objects.exists()


@pytest.mark.parametrize(
    "timestamp", ["2000-01-01 00:00:00 UTC", "2024-05-01 13:00:00 UTC", "2024-05-01T14:00:00+01:00"]
)
def test_both_ends_of_the_range_are_accepted(tmp_path, timestamp):
    load_feeds(polls=polls_file(tmp_path, [GOOD_POLL, f"1,active,{timestamp}"]), loaded_at=LOADED_AT)

    assert StatusPoll.objects.count() == 2


def test_max_future_minutes_sets_how_far_ahead_of_the_load_a_poll_may_be(tmp_path, settings):
    settings.MAX_FUTURE_MINUTES = 5
    latest = LOADED_AT + dt.timedelta(minutes=5)
    ok = polls_file(tmp_path, [GOOD_POLL, f"1,active,{feed_text(latest)}"], name="ok.csv")
    late = polls_file(tmp_path, [GOOD_POLL, f"1,active,{feed_text(latest + dt.timedelta(microseconds=1))}"])

    load_feeds(polls=ok, loaded_at=LOADED_AT)
    error = load_error(polls=late)

    assert "to 2024-05-01 12:05:00 UTC (5 minutes after the load started" in str(error)
    assert StatusPoll.objects.count() == 2


def test_the_time_of_the_load_defaults_to_now(tmp_path):
    now = dt.datetime.now(UTC)
    an_hour_ago, tomorrow = now - dt.timedelta(hours=1), now + dt.timedelta(days=1)
    path = polls_file(tmp_path, [f"1,active,{feed_text(an_hour_ago)}", f"1,active,{feed_text(tomorrow)}"])

    with pytest.raises(InvalidRow, match="line 3, field timestamp_utc: .* is outside the poll times"):
        load_feeds(polls=path)


def test_a_future_setting_beyond_the_calendar_leaves_the_range_open_ended(settings):
    settings.MAX_FUTURE_MINUTES = 10**12

    allowed = allowed_poll_times(LOADED_AT)

    assert allowed.latest == dt.datetime.max.replace(tzinfo=UTC)
    assert dt.datetime(9999, 12, 31, tzinfo=UTC) in allowed


def test_polls_outside_the_range_are_skipped_with_skip_invalid(tmp_path):
    path = polls_file(
        tmp_path,
        [GOOD_POLL, "1,active,9999-12-31 23:59:59 UTC", "2,inactive,0001-01-01 00:00:00 UTC", "2,active,2024-01-01Z"],
    )

    summary = load_feeds(polls=path, skip_invalid=True, loaded_at=LOADED_AT)

    feed = summary.feeds[0]
    assert (feed.read, feed.inserted, feed.skipped) == (4, 1, 3)
    assert [reason.split(":")[0] for reason in feed.skip_reasons] == [
        "store_status.csv line 3, field timestamp_utc",
        "store_status.csv line 4, field timestamp_utc",
        "store_status.csv line 5, field timestamp_utc",
    ]
    assert "outside the poll times" in feed.skip_reasons[0]
    assert list(StatusPoll.objects.values_list("store__store_id", flat=True)) == ["1"]


def test_the_command_refuses_the_issue_s_row_and_loads_nothing(tmp_path):
    path = polls_file(tmp_path, [GOOD_POLL, "1,active,9999-12-31 23:59:59 UTC"])

    with pytest.raises(CommandError) as caught:
        call_command("load_csvs", "--polls", str(path))

    message = str(caught.value)
    assert message.startswith("store_status.csv line 3, field timestamp_utc: '9999-12-31 23:59:59 UTC' is outside")
    assert message.endswith("\nNothing was loaded.")
    assert not StatusPoll.objects.exists()


# --- line length ---


def padded_poll(length: int, line_end: str = "\n") -> str:
    """A valid poll row of exactly ``length`` characters with its line end: the store id is
    padded with spaces, which the loader strips."""
    row = "1,active,2023-01-25 18:13:22 UTC"
    return "1" + " " * (length - len(row) - len(line_end)) + row[1:]


def test_a_line_of_exactly_the_limit_loads_and_one_character_more_is_refused(tmp_path, small_lines):
    fits = polls_file(tmp_path, [padded_poll(LIMIT)], name="fits.csv")
    over = polls_file(tmp_path, [GOOD_POLL, padded_poll(LIMIT + 1)])

    load_feeds(polls=fits)
    error = load_error(polls=over)

    assert isinstance(error, InvalidRow)
    assert str(error) == (
        "store_status.csv line 3: the line is longer than 1,024 characters (setting MAX_FEED_LINE_CHARS); "
        "a feed row is a few dozen characters"
    )
    assert StatusPoll.objects.count() == 1


@pytest.mark.parametrize("line_end", ["\n", "\r\n", "\r"])
@pytest.mark.parametrize("length", [5000, 2 * (LIMIT + 1) - 1], ids=["long", "line end at a chunk boundary"])
def test_an_over_long_line_is_skipped_and_later_lines_keep_their_numbers(tmp_path, small_lines, line_end, length):
    # Lines are read in chunks of the limit plus one; a line whose CR ends a chunk exactly must
    # still count as one line, whether an LF follows it or not.
    long_line = "x" * length
    path = write_feed(
        tmp_path / "store_status.csv",
        [POLLS_HEADER, GOOD_POLL, long_line, "2,active,2023-01-25 18:13:22 UTC", "3,asleep,2023-01-25 18:13:22 UTC"],
        line_end=line_end,
    )

    summary = load_feeds(polls=path, skip_invalid=True)

    feed = summary.feeds[0]
    assert (feed.read, feed.inserted, feed.skipped) == (4, 2, 2)
    assert [reason.split(":")[0] for reason in feed.skip_reasons] == [
        "store_status.csv line 3",
        "store_status.csv line 5, field status",
    ]


def test_an_over_long_last_line_without_a_line_end_is_refused(tmp_path, small_lines):
    path = polls_file(tmp_path, [GOOD_POLL, "x" * 3000], final_newline=False)

    summary = load_feeds(polls=path, skip_invalid=True)

    assert summary.feeds[0].skip_reasons == [
        "store_status.csv line 3: the line is longer than 1,024 characters (setting MAX_FEED_LINE_CHARS); "
        "a feed row is a few dozen characters"
    ]


def test_a_quoted_field_that_spans_lines_still_loads(tmp_path, small_lines):
    path = polls_file(tmp_path, ['"1\n",active,2023-01-25 18:13:22 UTC', "2,asleep,2023-01-25 18:13:22 UTC"])

    with pytest.raises(InvalidRow, match="^store_status.csv line 4, field status"):
        load_feeds(polls=path)
    load_feeds(polls=path, skip_invalid=True)

    assert list(StatusPoll.objects.values_list("store__store_id", flat=True)) == ["1"]


def test_a_quoted_field_spanning_lines_past_the_limit_stops_the_file_even_when_skipping(tmp_path, small_lines):
    # Every line is short; the row they make together is not. The lines after the refused one
    # lie inside the open quote, and the closing one would pass for a poll of store 'x"'.
    unclosed = '"1' + "\n".join("x" * 99 for _ in range(20))
    path = polls_file(tmp_path, [GOOD_POLL, unclosed + '",active,2023-01-25 18:13:22 UTC', GOOD_POLL])

    error = load_error(polls=path, skip_invalid=True)

    assert not isinstance(error, InvalidRow)
    assert str(error) == (
        "store_status.csv line 3: a quoted field starting on this line runs to line 13 and past 1,024 characters "
        "(setting MAX_FEED_LINE_CHARS); its closing quote is probably missing, so the rows after it cannot be "
        "told apart"
    )
    assert not StatusPoll.objects.exists()


def test_a_field_longer_than_the_csv_module_s_default_limit_gets_the_feed_s_own_message(tmp_path):
    # The csv module refuses fields over 131,072 characters with its own words; the loader lets
    # fields grow as long as a line may be (1 MiB by default) and checks the value itself.
    path = write_feed(tmp_path / "timezones.csv", [TIMEZONES_HEADER, f'1,"{"x" * 200_000}"'])

    error = load_error(timezones=path)

    assert str(error) == (
        "timezones.csv line 2, field timezone_str: 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx'... (200,000 characters) "
        "is not a time zone of the tz database (e.g. America/Chicago)"
    )


def test_the_csv_module_s_field_limit_is_restored_after_a_load(tmp_path):
    before = csv.field_size_limit()

    load_feeds(polls=polls_file(tmp_path, [GOOD_POLL]))
    load_error(polls=polls_file(tmp_path, ["1,active,never"]))

    assert csv.field_size_limit() == before


def test_a_header_longer_than_the_limit_stops_the_file_even_when_skipping(tmp_path, small_lines):
    path = write_feed(tmp_path / "store_status.csv", [POLLS_HEADER + "," + "x" * 2000, GOOD_POLL])

    with pytest.raises(IngestionError) as caught:
        load_feeds(polls=path, skip_invalid=True)

    assert str(caught.value) == (
        "store_status.csv line 1: the header line is longer than 1,024 characters (setting MAX_FEED_LINE_CHARS); "
        "is this a CSV feed file?"
    )


def test_a_bq_results_export_with_an_over_long_header_is_refused_when_the_directory_is_searched(tmp_path, small_lines):
    write_feed(tmp_path / "bq-results-20230125-202210-1674678181880.csv", ["x" * 5000])

    with pytest.raises(CommandError, match="line 1: the header line is longer than 1,024 characters"):
        call_command("load_csvs", str(tmp_path))


def test_a_bad_byte_after_an_over_long_line_is_found_on_its_line(tmp_path, small_lines):
    path = tmp_path / "store_status.csv"
    path.write_bytes(
        f"{POLLS_HEADER}\n{'x' * 5000}\n{GOOD_POLL}\n1,activ\xe9,2023-01-25 18:13:22 UTC\n".encode("latin-1")
    )

    error = load_error(polls=path, skip_invalid=True)

    assert str(error) == "store_status.csv line 4: is not UTF-8 text; save it as UTF-8"


def gzip_with_one_long_line(path, megabytes: int, quoted: bool = False) -> None:
    """A gzip polls file whose third line inflates to ``megabytes`` MB (or, ``quoted``, a quoted
    field over lines of 100 characters), then a good row; written in blocks, never whole."""
    block = ("x" * 99 + "\n") * 10_486 if quoted else "x" * (1 << 20)
    with gzip.open(path, "wt", compresslevel=1, newline="") as stream:
        stream.write(f"{POLLS_HEADER}\n{GOOD_POLL}\n" + ('"' if quoted else ""))
        for _ in range(megabytes):
            stream.write(block)
        stream.write(('x",active,2023-01-25 18:13:22 UTC' if quoted else "") + "\n2,active,2023-01-25 18:13:22 UTC\n")


def test_skipping_a_huge_line_holds_only_about_the_limit_in_memory(tmp_path, small_lines):
    path = tmp_path / "store_status.csv.gz"
    gzip_with_one_long_line(path, megabytes=16)

    tracemalloc.start()
    try:
        summary = load_feeds(polls=path, skip_invalid=True)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    feed = summary.feeds[0]
    assert (feed.read, feed.inserted, feed.skipped) == (3, 2, 1)
    assert feed.skip_reasons[0].startswith("store_status.csv.gz line 3: the line is longer than 1,024 characters")
    # 16 MB went through the reader; a small fraction of that was ever allocated at once.
    assert peak < 4 * 1024 * 1024


@pytest.mark.parametrize("quoted", [False, True], ids=["one line", "a quoted field over many lines"])
def test_without_skip_invalid_a_huge_row_stops_the_load_before_the_rest_is_read(tmp_path, small_lines, quoted):
    path = tmp_path / "store_status.csv.gz"
    gzip_with_one_long_line(path, megabytes=64, quoted=quoted)
    # Cut the file in the middle of the long row: a reader that went on past its first
    # kilobytes would fail on the truncation instead ("cannot be read to the end").
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])

    error = load_error(polls=path, skip_invalid=quoted)

    assert error.line == 3
    assert ("past 1,024 characters" if quoted else "longer than 1,024 characters") in str(error)
