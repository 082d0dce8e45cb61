"""The vectorised polls reader (fast_polls) against the exact reader, and the statistics a load
leaves behind.

The property: on any polls file, reading it the way a load does (columns when the vectorised
reader takes the file, else the exact reader's rows) gives the rows, the count and the error the
exact reader alone gives; and on files in the feeds' common spelling it is the vectorised
reader that reads them.
"""

from __future__ import annotations

import datetime as dt
import itertools

import pytest
from django.db import connection
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitoring.ingestion import IngestionError, load_feeds
from monitoring.ingestion.backends import backend_for
from monitoring.ingestion.backends.postgresql import PostgresqlBackend
from monitoring.ingestion.feeds import Feed
from monitoring.ingestion.reading import FeedReader
from monitoring.ingestion.values import PollTimeRange
from monitoring.models import EARLIEST_POLL_TIME, StatusPoll, Store
from tests.monitoring.csv_files import POLLS_HEADER, polls_file, write_feed

UTC = dt.UTC
# Polls up to this time are accepted; the generated times run past it on both sides.
LATEST = dt.datetime(2030, 1, 1, tzinfo=UTC)
POLL_TIMES = PollTimeRange(earliest=EARLIEST_POLL_TIME, latest=LATEST, future_minutes=0)
LINE_LIMIT = 200

common_store_ids = st.text(alphabet="0123456789abcdef-", min_size=1, max_size=40)
common_timestamps = st.builds(
    lambda moment, digits: (
        f"{moment:%Y-%m-%d %H:%M:%S}" + (f".{moment.microsecond:06d}"[: digits + 1] if digits else "") + " UTC"
    ),
    st.datetimes(min_value=dt.datetime(2000, 1, 1), max_value=dt.datetime(2029, 12, 31)),
    st.integers(0, 6),
)
common_rows = st.tuples(common_store_ids, st.sampled_from(["active", "inactive"]), common_timestamps)

# Everything near the common spelling that the exact reader reads differently or refuses.
odd_store_ids = st.one_of(
    common_store_ids,
    st.sampled_from(["", " 12", "12 ", '"12"', '"1,2"', "ünï", "x" * 65, "a\tb", '"a""b"']),
    st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=8),
)
odd_statuses = st.sampled_from(["active", "inactive", "Active", " active", "inactive ", "", "open", "activ"])
odd_timestamps = st.one_of(
    common_timestamps,
    st.sampled_from(
        [
            "2023-13-01 00:00:00 UTC",
            "2023-02-29 00:00:00 UTC",
            "2024-02-29 23:59:59.999999 UTC",
            "2023-04-31 10:00:00 UTC",
            "2023-01-01 24:00:00 UTC",
            "2023-01-01 23:60:00 UTC",
            "2023-01-01 23:59:60 UTC",
            "2023-01-01 10:00:00. UTC",
            "2023-01-01 10:00:00.1234567 UTC",
            "2023-01-01T10:00:00Z",
            "2023-01-01 10:00:00+05:30",
            "2023-01-01 10:00:00",
            "2023-01-01 10:00:00 utc",
            "1999-12-31 23:59:59.999999 UTC",
            "2000-01-01 00:00:00 UTC",
            "2030-01-01 00:00:00 UTC",
            "2030-01-01 00:00:00.000001 UTC",
            "0000-01-01 00:00:00 UTC",
            "9999-12-31 23:59:59 UTC",
            "２０２３-01-01 10:00:00 UTC",
        ]
    ),
)
odd_rows = st.tuples(odd_store_ids, odd_statuses, odd_timestamps)
# A column order of the header, and the way lines end.
orders = st.sampled_from(list(itertools.permutations(range(3))))
line_ends = st.sampled_from(["\n", "\r\n"])
NAMES = POLLS_HEADER.split(",")


def write_polls(tmp_path, rows, order, line_end="\n", blank_lines=(), extra_lines=()) -> object:
    lines = [",".join(NAMES[index] for index in order)]
    lines += [",".join(row[index] for index in order) for row in rows]
    for position in blank_lines:
        lines.insert(min(position, len(lines) - 1) + 1, "")
    lines += list(extra_lines)
    return write_feed(tmp_path / "store_status.csv", lines, line_end=line_end)


def read_exactly(path, skip_invalid=False):
    """The exact reader's rows and count, or its error's text."""
    reader = FeedReader(path, Feed.POLLS, max_line_chars=LINE_LIMIT, poll_times=POLL_TIMES, skip_invalid=skip_invalid)
    try:
        with reader:
            rows = list(reader.rows())
    except IngestionError as error:
        return ("error", str(error))
    return ("rows", rows, reader.read, reader.skipped, reader.skip_reasons)


def read_as_a_load_does(path, skip_invalid=False):
    """As loading._load_file: columns if the vectorised reader takes the file, else rows."""
    reader = FeedReader(path, Feed.POLLS, max_line_chars=LINE_LIMIT, poll_times=POLL_TIMES, skip_invalid=skip_invalid)
    try:
        with reader:
            columns = reader.poll_columns()
            rows = list(reader.rows()) if columns is None else list(columns.rows())
    except IngestionError as error:
        return ("error", str(error)), None
    return ("rows", rows, reader.read, reader.skipped, reader.skip_reasons), columns


SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@SETTINGS
@given(rows=st.lists(common_rows, max_size=40), order=orders, line_end=line_ends, blanks=st.lists(st.integers(0, 40)))
def test_the_common_spelling_is_read_by_columns_with_the_exact_readers_rows(tmp_path, rows, order, line_end, blanks):
    path = write_polls(tmp_path, rows, order, line_end, blank_lines=blanks)

    outcome, columns = read_as_a_load_does(path)

    assert columns is not None
    assert outcome == read_exactly(path)


@SETTINGS
@given(rows=st.lists(odd_rows, max_size=20), order=orders, line_end=line_ends, skip_invalid=st.booleans())
def test_any_file_reads_as_the_exact_reader_reads_it(tmp_path, rows, order, line_end, skip_invalid):
    path = write_polls(tmp_path, rows, order, line_end)

    outcome, _ = read_as_a_load_does(path, skip_invalid)

    assert outcome == read_exactly(path, skip_invalid)


@pytest.mark.parametrize(
    "extra_line",
    [
        "1,active,2023-01-25 10:00:00 UTC,extra",
        "1,active",
        '"1",active,2023-01-25 10:00:00 UTC',
        "1;active;2023-01-25 10:00:00 UTC",
        "1,active,2023-01-25 10:00:00 UTC\r2,active,2023-01-25 11:00:00 UTC",
        "x" * (LINE_LIMIT + 1),
        " ",
    ],
)
def test_one_line_off_the_common_spelling_sends_the_whole_file_to_the_exact_reader(tmp_path, extra_line):
    rows = [("1", "active", "2023-01-25 10:00:00 UTC")] * 3
    path = write_polls(tmp_path, rows, (0, 1, 2), extra_lines=[extra_line])

    outcome, columns = read_as_a_load_does(path)

    assert columns is None
    assert outcome == read_exactly(path)


def test_a_last_line_without_line_end_and_a_gzip_file_are_read_by_columns(tmp_path):
    lines = [POLLS_HEADER, "7,inactive,2023-01-25 10:00:00.25 UTC", "8,active,2023-01-25 11:00:00 UTC"]
    for path in (
        write_feed(tmp_path / "store_status.csv", lines, final_newline=False),
        write_feed(tmp_path / "store_status.csv.gz", lines, bom=True),
    ):
        outcome, columns = read_as_a_load_does(path)
        assert columns is not None
        assert outcome == read_exactly(path)
        assert outcome[1] == [
            ("7", "inactive", dt.datetime(2023, 1, 25, 10, 0, 0, 250000, tzinfo=UTC)),
            ("8", "active", dt.datetime(2023, 1, 25, 11, tzinfo=UTC)),
        ]


def test_a_file_spanning_many_blocks_numbers_stores_by_first_appearance(tmp_path, monkeypatch):
    from monitoring.ingestion import fast_polls

    monkeypatch.setattr(fast_polls, "MAX_BLOCK_BYTES", 64)
    monkeypatch.setattr(fast_polls, "MIN_BLOCK_BYTES", 64)
    rows = [(f"store-{number % 7}", "active", f"2023-01-25 10:{number:02d}:00 UTC") for number in range(50)]
    path = write_polls(tmp_path, rows, (0, 1, 2))

    outcome, columns = read_as_a_load_does(path)

    assert columns is not None
    assert columns.store_ids == [f"store-{number}" for number in range(7)]
    assert outcome == read_exactly(path)


# --- loads on PostgreSQL: the column path writes what the row path writes ---


def database_state():
    polls = sorted(StatusPoll.objects.values_list("store__store_id", "timestamp_utc", "status"))
    stores = sorted(Store.objects.values_list("store_id", "last_polled_at"))
    return polls, stores


def summary_counts(summary):
    feed = summary.feeds[0]
    return feed.read, feed.inserted, feed.duplicates, feed.skipped, summary.stores_created


LOAD_ROWS = [
    "b,inactive,2023-01-25 10:00:00 UTC",
    "a,active,2023-01-25 10:00:00 UTC",
    "b,active,2023-01-25 10:00:00 UTC",  # repeats b's first poll: the first one is kept
    "b,active,2023-01-25 09:00:00.5 UTC",
    "c,active,2023-01-26 09:00:00.123 UTC",
]
RELOAD_ROWS = [
    "a,inactive,2023-01-25 10:00:00 UTC",
    "a,active,2023-01-27 10:00:00 UTC",
    "d,active,2023-01-20T01:00:00Z",
]


@pytest.mark.django_db(transaction=True)
@pytest.mark.postgres
@pytest.mark.parametrize("bulk_min_rows", [1, 1_000])
def test_a_load_by_columns_stores_what_a_load_by_rows_stores(tmp_path, monkeypatch, bulk_min_rows):
    monkeypatch.setattr(PostgresqlBackend, "BULK_LOAD_MIN_ROWS", bulk_min_rows)
    outcomes = []
    for by_columns in (True, False):
        monkeypatch.setattr(PostgresqlBackend, "supports_poll_columns", by_columns)
        StatusPoll.objects.all().delete()
        Store.objects.all().delete()
        Store.objects.create(store_id="a")
        first = load_feeds(polls=polls_file(tmp_path, LOAD_ROWS))
        after_first = database_state()
        # Files into the now filled table: a known poll, a new one, a new store; the third
        # file's ISO timestamp is read by the exact reader only.
        second = load_feeds(polls=polls_file(tmp_path, RELOAD_ROWS[:2]))
        third = load_feeds(polls=polls_file(tmp_path, RELOAD_ROWS))
        outcomes.append(
            (summary_counts(first), after_first, summary_counts(second), summary_counts(third), database_state())
        )
    assert outcomes[0] == outcomes[1]
    assert outcomes[0][0] == (5, 4, 1, 0, 2)


@pytest.mark.django_db(transaction=True)
@pytest.mark.postgres
def test_a_bad_row_in_a_large_file_gives_the_exact_error_and_loads_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr(PostgresqlBackend, "BULK_LOAD_MIN_ROWS", 1)
    rows = [f"{number % 50},active,2023-01-25 {number % 24:02d}:{number % 60:02d}:00 UTC" for number in range(5_000)]
    rows[4_321] = "17,active,2023-02-30 10:00:00 UTC"
    path = polls_file(tmp_path, rows)

    with pytest.raises(IngestionError) as raised:
        load_feeds(polls=path)

    assert str(raised.value) == (
        "store_status.csv line 4323, field timestamp_utc: '2023-02-30 10:00:00 UTC' is not a timestamp"
        " (expected e.g. 2023-01-25 18:13:22.47922 UTC)"
    )
    assert not StatusPoll.objects.exists()
    assert not Store.objects.exists()


# --- statistics after a load ---


def planner_rows(table: str) -> float:
    with connection.cursor() as cursor:
        cursor.execute("SELECT reltuples FROM pg_class WHERE oid = %s::regclass", [table])
        return cursor.fetchone()[0]


def has_column_statistics(table: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT EXISTS (SELECT 1 FROM pg_stats WHERE tablename = %s)", [table])
        return cursor.fetchone()[0]


@pytest.mark.django_db
@pytest.mark.postgres
@pytest.mark.parametrize("by_columns", [True, False])
def test_a_big_load_leaves_the_tables_analysed(tmp_path, monkeypatch, by_columns):
    monkeypatch.setattr(PostgresqlBackend, "supports_poll_columns", by_columns)
    rows = [
        f"s{number % 60},active,2023-01-25 {number % 24:02d}:{number % 60:02d}:{number % 7:02d} UTC"
        for number in range(3_000)
    ]
    assert not has_column_statistics("monitoring_statuspoll")

    summary = load_feeds(polls=polls_file(tmp_path, rows))

    assert planner_rows("monitoring_statuspoll") == summary.feeds[0].inserted
    assert planner_rows("monitoring_store") == 60
    assert has_column_statistics("monitoring_statuspoll")


@pytest.mark.django_db
@pytest.mark.postgres
def test_a_small_load_into_a_large_table_leaves_its_statistics_to_autovacuum(tmp_path):
    backend = backend_for(connection)
    load_feeds(polls=polls_file(tmp_path, [f"s{number},active,2023-01-25 10:00:00 UTC" for number in range(1_000)]))
    assert planner_rows("monitoring_statuspoll") == 1_000

    analysed = backend.analyze_changed_tables({backend.poll_table: 99, backend.store_table: 0})

    assert analysed == []
    assert backend.analyze_changed_tables({backend.poll_table: 150}) == [backend.poll_table]


@pytest.mark.django_db
def test_sqlite_and_postgresql_both_load_a_file_in_the_common_spelling(tmp_path):
    summary = load_feeds(polls=polls_file(tmp_path, LOAD_ROWS))

    assert summary_counts(summary) == (5, 4, 1, 0, 3)
    polls, stores = database_state()
    assert ("b", dt.datetime(2023, 1, 25, 10, tzinfo=UTC), "inactive") in polls
    assert dict(stores)["b"] == dt.datetime(2023, 1, 25, 10, tzinfo=UTC)
