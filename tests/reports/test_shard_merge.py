"""A sharded report's parts, merged, are the report computed in one piece: CSVs and summary."""

import csv
import datetime as dt
import io
import json

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reports.attention import attention_summary, attention_summary_part, merge_attention_summaries
from reports.generation import compute_report, write_outages_csv, write_report_csv
from reports.shard_merge import (
    merge_outages_csv,
    merge_report_csv,
    merged_report_csv_lines,
    outages_csv_part,
    report_csv_part,
)
from reports.uptime import CSV_COLUMNS, FeedArrays, compute_uptime, epoch_microseconds, microseconds_of_day
from tests.factories import BusinessHoursFactory, StatusPollFactory, StoreFactory, TimezoneFactory
from tests.reports.conftest import at
from tests.reports.test_uptime_properties import LOOKBACK, ZONES, as_of_instants, stores

LOOKBACK_US = LOOKBACK // dt.timedelta(microseconds=1)
AS_OF = at("2023-01-25 12:00")  # a Wednesday
DEFAULT_ZONE = "America/Chicago"
WED = 2


def feeds_in_order(store_list):
    """FeedArrays of ``(store_id, polls, hours, zone)`` with the stores at positions in the order
    given, as a snapshot reads them (by primary key), not sorted by store_id."""
    store_ids = [store_id for store_id, *_ in store_list]
    polls = [
        (i, epoch_microseconds(t), a) for i, (_, store_polls, _, _) in enumerate(store_list) for t, a in store_polls
    ]
    hours = [
        (i, day, microseconds_of_day(opens), microseconds_of_day(closes))
        for i, (_, _, store_hours, _) in enumerate(store_list)
        for day, opens, closes in store_hours
    ]
    return FeedArrays(
        store_ids=store_ids,
        store_zones=[zone or DEFAULT_ZONE for *_, zone in store_list],
        poll_store=np.array([p[0] for p in polls], dtype=np.int64),
        poll_time_us=np.array([p[1] for p in polls], dtype=np.int64),
        poll_active=np.array([p[2] for p in polls], dtype=bool),
        hours_store=np.array([h[0] for h in hours], dtype=np.int64),
        hours_day=np.array([h[1] for h in hours], dtype=np.int64),
        hours_start_us=np.array([h[2] for h in hours], dtype=np.int64),
        hours_end_us=np.array([h[3] for h in hours], dtype=np.int64),
    )


def computed(store_list, as_of=AS_OF, method="last_known"):
    feeds = feeds_in_order(store_list)
    return compute_uptime(feeds, epoch_microseconds(as_of), LOOKBACK_US, method), feeds


def whole_report_csv(figures, columns="basic"):
    buffer = io.StringIO()
    write_report_csv(figures, buffer, columns)
    return buffer.getvalue()


def whole_outages_csv(figures, feeds):
    buffer = io.StringIO()
    write_outages_csv(figures, feeds, buffer)
    return buffer.getvalue()


def store(store_id, polls, hours=(), zone="UTC"):
    return (store_id, [(at(when), status == "active") for when, status in polls], list(hours), zone)


def down_all_the_time(store_id, zone="UTC"):
    """Open all the time, inactive from the lookback's start on: offline since it at AS_OF."""
    return store(store_id, [("2023-01-25 11:00", "inactive")], zone=zone)


# Stores in primary-key order: neither their store_ids nor their quoting follow it.
SHARDS = [
    [
        store("m\nline", [("2023-01-25 10:00", "active"), ("2023-01-25 11:00", "inactive")]),
        store("b,2", [("2023-01-25 08:00", "inactive")], [(WED, dt.time(9), dt.time(21))]),
    ],
    [store('a"q', [("2023-01-25 09:00", "active")]), store("zz", [("2023-01-24 09:00", "inactive")])],
    [store("c", [("2023-01-25 11:59", "inactive")]), store("b", [("2023-01-20 00:00", "active")])],
]


def parts_of(shards, as_of=AS_OF, method="last_known"):
    return [computed(shard, as_of, method) for shard in shards]


@pytest.mark.parametrize("columns", ["basic", "extended"])
def test_merged_report_csv_is_the_whole_reports_in_store_id_order(columns):
    whole, _ = computed([s for shard in SHARDS for s in shard])
    merged = merge_report_csv([report_csv_part(figures, columns) for figures, _ in parts_of(SHARDS)], columns)
    assert merged == whole_report_csv(whole, columns)
    # Python's string order, quoting kept: '"' sorts after ",", a line break before both.
    assert [row[0] for row in csv.reader(io.StringIO(merged, newline=""))] == [
        "store_id",
        'a"q',
        "b",
        "b,2",
        "c",
        "m\nline",
        "zz",
    ]
    for quoted in ('"a""q",', '"b,2",', '"m\nline",'):
        assert quoted in merged


def test_a_part_is_its_stores_rows_without_the_header():
    figures, _ = computed(SHARDS[1])
    assert report_csv_part(figures, "basic") == (
        '"a""q",60.00,24.00,168.00,0.00,0.00,0.00\nzz,0.00,0.00,0.00,60.00,24.00,168.00\n'
    )


def test_merged_outages_csv_is_the_whole_reports_by_store_id_then_start():
    whole, whole_feeds = computed([s for shard in SHARDS for s in shard])
    merged = merge_outages_csv([outages_csv_part(figures, feeds) for figures, feeds in parts_of(SHARDS)])
    assert merged == whole_outages_csv(whole, whole_feeds)
    rows = list(csv.reader(io.StringIO(merged, newline="")))
    # b,2 is open on Wednesdays only: one outage in each of the lookback's three, by start.
    assert [(row[0], row[1][:13]) for row in rows[1:]] == [
        ("b,2", "2023-01-11T12"),
        ("b,2", "2023-01-18T09"),
        ("b,2", "2023-01-25T09"),
        ("c", "2023-01-11T12"),
        ("m\nline", "2023-01-25T11"),
        ("zz", "2023-01-11T12"),
    ]


def test_empty_parts_and_parts_of_no_store_add_nothing():
    figures, feeds = computed(SHARDS[0])
    nothing, no_feeds = computed([])
    assert report_csv_part(nothing, "extended") == ""
    assert outages_csv_part(nothing, no_feeds) == ""
    for columns in ("basic", "extended"):
        assert merge_report_csv(["", report_csv_part(figures, columns), ""], columns) == whole_report_csv(
            figures, columns
        )
        assert merge_report_csv([], columns) == whole_report_csv(nothing, columns)
    assert merge_outages_csv([outages_csv_part(figures, feeds), ""]) == whole_outages_csv(figures, feeds)
    assert merge_outages_csv([]) == whole_outages_csv(nothing, no_feeds)
    # A store listed with no polls in the lookback has no row, in a part as in the whole.
    unpolled = store("idle", [("2022-12-01 00:00", "active")])
    figures, _ = computed([unpolled])
    assert report_csv_part(figures, "basic") == ""


def test_the_merged_csv_streams_row_by_row():
    parts = [report_csv_part(figures, "basic") for figures, _ in parts_of(SHARDS)]
    lines = list(merged_report_csv_lines(parts, "basic"))
    assert lines[0] == ",".join(CSV_COLUMNS) + "\n"
    assert len(lines) == 7
    assert "".join(lines) == merge_report_csv(parts, "basic")


def test_parts_that_cannot_be_merged_are_refused_with_a_sentence():
    row_a = "a,1.00,1.00,1.00,0.00,0.00,0.00\n"
    row_b = "b,1.00,1.00,1.00,0.00,0.00,0.00\n"
    with pytest.raises(ValueError, match="Part 1 is not in store_id order"):
        merge_report_csv([row_a, row_b + row_a], "basic")
    with pytest.raises(ValueError, match="Store 'a' has two rows"):
        merge_report_csv([row_a, row_a + row_b], "basic")
    with pytest.raises(ValueError, match="cut short"):
        merge_report_csv([row_a.rstrip("\n")], "basic")
    with pytest.raises(ValueError, match="ends inside a quoted store_id"):
        merge_report_csv(['"a\n'], "basic")
    outage = "a,2023-01-25T09:00:00+00:00,2023-01-25T10:00:00+00:00,x,y,60.00\n"
    with pytest.raises(ValueError, match="Store 'a' has outages in parts 0 and 1"):
        merge_outages_csv([outage, outage])
    with pytest.raises(ValueError, match="is not a column set"):
        merge_report_csv([row_a], "wide")


def test_equal_attention_keys_across_shards_keep_the_whole_summarys_order():
    # Every store down all the time: equal downtime, all offline since the lookback's start.
    shards = [
        [down_all_the_time("d"), down_all_the_time("a", zone="America/Chicago")],
        [],
        [down_all_the_time("c"), store("e", [("2023-01-25 11:00", "active")])],
        [down_all_the_time("b")],
    ]
    whole, whole_feeds = computed([s for shard in shards for s in shard])
    parts = [attention_summary_part(figures, feeds, limit=3) for figures, feeds in parts_of(shards)]
    merged = merge_attention_summaries(parts)
    assert merged == attention_summary(whole, whole_feeds, limit=3)
    # Equal downtime in the day and the week: by store_id.
    assert [entry["store_id"] for entry in merged["attention"]] == ["a", "b", "c"]
    # Offline since the same instant: by store position, which is primary-key order.
    assert [entry["store_id"] for entry in merged["offline_now"]] == ["d", "a", "c"]
    assert (merged["attention_count"], merged["offline_now_count"], merged["stores"]) == (4, 4, 5)


def test_summary_parts_are_plain_json_and_one_part_is_the_summary():
    figures, feeds = computed([s for shard in SHARDS for s in shard])
    part = attention_summary_part(figures, feeds)
    assert json.loads(json.dumps(part)) == part
    assert merge_attention_summaries([part]) == attention_summary(figures, feeds)
    # Each candidate carries the raw key it is ranked by, in microseconds.
    zz = next(candidate for candidate in part["attention"] if candidate["entry"]["store_id"] == "zz")
    assert zz["key"] == [86_400_000_000, 7 * 86_400_000_000]


def test_summary_parts_of_different_reports_are_refused():
    first, first_feeds = computed(SHARDS[0])
    later, later_feeds = computed(SHARDS[1], as_of=AS_OF + dt.timedelta(hours=1))
    with pytest.raises(ValueError, match="disagree on their as_of"):
        merge_attention_summaries(
            [attention_summary_part(first, first_feeds), attention_summary_part(later, later_feeds)]
        )
    with pytest.raises(ValueError, match="no summary parts"):
        merge_attention_summaries([])


# --- The property: any cut into contiguous ranges of stores merges back into the whole -------

store_ids = st.text(alphabet='ab9 ,"\n\r\u00e9', max_size=4)


@st.composite
def sharded_scenarios(draw):
    as_of = draw(as_of_instants())
    n_stores = draw(st.integers(0, 8))
    ids = draw(st.lists(store_ids, min_size=n_stores, max_size=n_stores, unique=True))
    store_list = []
    for store_id in ids:
        # Stores down all the time tie in every attention key and offline-now start.
        if draw(st.booleans()):
            polls, hours, zone = draw(stores(as_of))
        else:
            polls, hours, zone = [(as_of - dt.timedelta(hours=1), False)], [], draw(st.sampled_from(ZONES))
        store_list.append((store_id, polls, hours, zone))
    # The list's order is the primary-key order; the cuts make contiguous ranges of it.
    cuts = sorted(draw(st.lists(st.integers(0, n_stores), max_size=4)))
    bounds = [0, *cuts, n_stores]
    shards = [store_list[low:high] for low, high in zip(bounds, bounds[1:], strict=False)]
    return as_of, store_list, shards


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    scenario=sharded_scenarios(),
    method=st.sampled_from(["last_known", "nearest"]),
    limit=st.integers(1, 4),
)
def test_shards_computed_alone_and_merged_are_the_whole_report(scenario, method, limit):
    as_of, store_list, shards = scenario
    whole, whole_feeds = computed(store_list, as_of, method)
    parts = parts_of(shards, as_of, method)
    for columns in ("basic", "extended"):
        merged = merge_report_csv([report_csv_part(figures, columns) for figures, _ in parts], columns)
        assert merged == whole_report_csv(whole, columns)
    merged_outages = merge_outages_csv([outages_csv_part(figures, feeds) for figures, feeds in parts])
    assert merged_outages == whole_outages_csv(whole, whole_feeds)
    # Through JSON, as the parts are kept in the database.
    summary_parts = [json.loads(json.dumps(attention_summary_part(f, feeds, limit))) for f, feeds in parts]
    assert merge_attention_summaries(summary_parts) == attention_summary(whole, whole_feeds, limit)


# --- Through the database: shards read by primary-key range -----------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("columns", ["basic", "extended"])
def test_reports_of_primary_key_ranges_merge_into_the_whole_report(columns):
    # Created in this order, so primary keys follow it and not store_id order.
    created = []
    for store_id, polls, zone in [
        ("zeta", [("2023-01-25 05:00", "inactive")], "UTC"),
        ("alpha", [("2023-01-25 05:00", "inactive")], None),
        ("m,1", [("2023-01-25 09:30", "active"), ("2023-01-25 10:30", "inactive")], "UTC"),
        ('q"x', [("2023-01-25 05:00", "inactive")], "UTC"),
        ("beta", [("2023-01-24 20:00", "active")], "Asia/Kolkata"),
        ("idle", [], "UTC"),
    ]:
        row = StoreFactory(store_id=store_id)
        for when, status in polls:
            StatusPollFactory(store=row, timestamp_utc=at(when), status=status)
        if zone:
            TimezoneFactory(store=row, timezone_str=zone)
        created.append(row)
    BusinessHoursFactory(store=created[2], day_of_week=WED, start_time_local=dt.time(9), end_time_local=dt.time(21))
    pks = [row.pk for row in created]
    whole = compute_report(as_of=AS_OF)
    ranges = [(pks[0], pks[1]), (pks[2], pks[2]), (pks[3], pks[5]), (pks[5] + 1, pks[5] + 10)]
    shards = [compute_report(as_of=AS_OF, store_pk_range=pk_range) for pk_range in ranges]
    assert [data.store_count for data in shards] == [2, 1, 2, 0]

    merged = merge_report_csv([report_csv_part(data.figures, columns) for data in shards], columns)
    assert merged == whole_report_csv(whole.figures, columns)
    merged_outages = merge_outages_csv([outages_csv_part(data.figures, data.feeds) for data in shards])
    assert merged_outages == whole_outages_csv(whole.figures, whole.feeds)
    summary = merge_attention_summaries([attention_summary_part(data.figures, data.feeds) for data in shards])
    assert summary == attention_summary(whole.figures, whole.feeds)
    # zeta, alpha and q"x are offline since the lookback's start: by primary key, as in one piece.
    assert [entry["store_id"] for entry in summary["offline_now"]][:3] == ["zeta", "alpha", 'q"x']
    assert [row[0] for row in csv.reader(io.StringIO(merged, newline=""))][1:] == [
        "alpha",
        "beta",
        "m,1",
        'q"x',
        "zeta",
    ]
