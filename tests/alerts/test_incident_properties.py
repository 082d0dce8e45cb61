"""Property tests: the incidents equal the outages of a report computed at the same as_of.

Random small datasets (stores with random hours, overnight rows and none, zones with daylight
saving changes, random polls over twenty days, most of them in the last day and a half) are
loaded by the real importer. With polls imported in chunks (in any order, or oldest first as live
data comes), a reconciliation after each and corrected hours of a store imported between them,
the final incidents equal the report's outages wherever incidents are not settled. With one
import and one reconciliation they equal them over the whole lookback, but for the outages the
settled margin never makes incidents (over by it, and shown by no inactive poll at or before).
"""

import datetime as dt

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from alerts.incidents import SETTLED_MARGIN_US, reconcile_incidents
from alerts.models import Incident
from monitoring.models import Import, Store
from reports.generation import compute_report
from reports.uptime import epoch_microseconds

pytestmark = pytest.mark.django_db

UTC = dt.UTC
ZONES = [None, "UTC", "America/Chicago", "Europe/London", "Australia/Lord_Howe"]  # None: the default, Chicago
# The newest possible poll: a daylight-saving change of the zones above falls inside the ten days before.
ANCHORS = [
    dt.datetime(2023, 3, 14, 12, 0, tzinfo=UTC),  # Chicago springs forward on 03-12
    dt.datetime(2023, 3, 29, 0, 0, tzinfo=UTC),  # London on 03-26
    dt.datetime(2023, 4, 5, 6, 30, tzinfo=UTC),  # Lord Howe falls back half an hour on 04-02
    dt.datetime(2023, 11, 7, 23, 0, tzinfo=UTC),  # Chicago falls back on 11-05
]
# Polls over twenty days: the lookback (14) moves past the oldest ones as the imports go on.
SPAN_MINUTES = 20 * 24 * 60
TIMES = ["00:00:00", "01:30:00", "02:30:00", "06:00:00", "09:00:00", "12:00:00", "17:00:00", "23:30:00", "23:59:59"]

hours_rows = st.tuples(st.integers(0, 6), st.sampled_from(TIMES), st.sampled_from(TIMES))  # start > end: overnight


@st.composite
def datasets(draw, max_chunks):
    """(anchor, stores, chunks, correction): stores as (zone, hours rows, polls as (time, active));
    each poll's chunk; None or (store, new hours rows, the chunk they are imported before)."""
    anchor = draw(st.sampled_from(ANCHORS))
    stores = []
    for _ in range(draw(st.integers(1, 3))):
        zone = draw(st.sampled_from(ZONES))
        hours = draw(st.one_of(st.just([]), st.lists(hours_rows, min_size=1, max_size=5)))
        # Many polls near the anchor (the live edge), some spread over the ten days.
        minutes = draw(
            st.sets(st.one_of(st.integers(0, 36 * 60), st.integers(0, SPAN_MINUTES)), min_size=1, max_size=16)
        )
        polls = [(anchor - dt.timedelta(minutes=m), draw(st.booleans())) for m in sorted(minutes, reverse=True)]
        stores.append((zone, hours, polls))
    times = [when for _, _, polls in stores for when, _ in polls]
    n_chunks = draw(st.integers(1, max_chunks))
    if draw(st.booleans()):
        # Any order: a chunk holds polls of any time.
        chunks = draw(st.lists(st.integers(0, n_chunks - 1), min_size=len(times), max_size=len(times)))
    else:
        # As live data comes: consecutive stretches of time, oldest first.
        rank = {position: r for r, position in enumerate(sorted(range(len(times)), key=times.__getitem__))}
        chunks = [rank[position] * n_chunks // len(times) for position in range(len(times))]
    correction = None
    if max_chunks > 1 and draw(st.booleans()):
        new_hours = draw(st.lists(hours_rows, min_size=1, max_size=5))
        correction = (draw(st.integers(0, len(stores) - 1)), new_hours, draw(st.integers(0, max_chunks - 1)))
    return anchor, stores, chunks, correction


def load(feeds, stores, chunks, correction=None):
    """Hours and zones first, then the polls one chunk at a time (chunk 0 first, whatever its
    times), reconciling after each import as the import's task does; a correction of one
    store's hours is imported (and reconciled) before its chunk. Returns the stores as they end."""
    zones = [(f"s{i}", zone) for i, (zone, _, _) in enumerate(stores) if zone]
    if zones:
        feeds.zones(*zones)
    hours = [(f"s{i}", *row) for i, (_, rows, _) in enumerate(stores) for row in rows]
    if hours:
        feeds.hours(*hours)
    polls = [(f"s{i}", when, active) for i, (_, _, store_polls) in enumerate(stores) for when, active in store_polls]
    for chunk in sorted(set(chunks) | ({correction[2]} if correction else set())):
        if correction and chunk == correction[2]:
            store, new_hours, _ = correction
            feeds.hours(*[(f"s{store}", *row) for row in new_hours])
            reconcile_incidents()
            zone, _, store_polls = stores[store]
            stores = [*stores[:store], (zone, new_hours, store_polls), *stores[store + 1 :]]
        rows = [
            (store_id, "active" if active else "inactive", f"{when:%Y-%m-%d %H:%M}")
            for (store_id, when, active), of in zip(polls, chunks, strict=True)
            if of == chunk
        ]
        if rows:
            feeds.polls(*rows, force=True)
            reconcile_incidents()
    return stores


def start_afresh():
    """Hypothesis runs every example in the one test's transaction: forget the previous one's data."""
    Incident.objects.all().delete()
    Store.objects.all().delete()
    Import.objects.all().delete()


def report_outages(as_of):
    """The report's outages at ``as_of`` as {(store_id, start µs, end µs or None when ongoing)}."""
    data = compute_report(as_of=as_of, method="last_known")
    outages, store_ids = data.figures.outages, data.feeds.store_ids
    rows = zip(
        outages.store.tolist(), outages.start.tolist(), outages.end.tolist(), outages.ongoing.tolist(), strict=True
    )
    return outages.lookback_start_us, {(store_ids[k], start, None if going else end) for k, start, end, going in rows}


def current_incidents(lookback_start_us):
    """The current incidents in the lookback, their start cut to it, as the report's outages are."""
    found = set()
    for store_id, start, end in Incident.objects.current().values_list("store__store_id", "started_at", "ended_at"):
        end_us = None if end is None else epoch_microseconds(end)
        if end_us is None or end_us > lookback_start_us:
            found.add((store_id, max(epoch_microseconds(start), lookback_start_us), end_us))
    return found


def backed(outage, stores, lookback_start_us):
    """Some inactive poll of the outage's store in the report, at or before the outage's end."""
    store_id, _, end = outage
    _, _, polls = stores[int(store_id[1:])]
    return any(
        not active and lookback_start_us <= epoch_microseconds(when) <= (end if end is not None else 2**62)
        for when, active in polls
    )


def newest_poll(stores):
    return max(when for _, _, polls in stores for when, _ in polls)


@settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(dataset=datasets(max_chunks=6))
def test_incidents_after_imports_in_any_order_equal_the_outages_where_not_settled(feeds, dataset):
    start_afresh()
    anchor, stores, chunks, correction = dataset
    load(feeds, stores, chunks, correction)

    as_of = newest_poll(stores) + dt.timedelta(microseconds=1)
    lookback_start_us, outages = report_outages(as_of)
    settled_before = lookback_start_us + SETTLED_MARGIN_US
    # Settled incidents (over by the margin) never change, so compare what starts after it: no
    # settled incident reaches there, and every outage there must be an incident.
    expected = {outage for outage in outages if outage[1] >= settled_before}
    got = {incident for incident in current_incidents(lookback_start_us) if incident[1] >= settled_before}
    assert got == expected
    # Reconciling again changes nothing.
    again = reconcile_incidents()
    assert (again.created, again.updated, again.deleted, again.retracted) == (0, 0, 0, 0)


@settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(dataset=datasets(max_chunks=1))
def test_incidents_of_one_import_equal_the_outages_over_the_whole_lookback(feeds, dataset):
    start_afresh()
    anchor, stores, chunks, _ = dataset
    load(feeds, stores, chunks)

    as_of = newest_poll(stores) + dt.timedelta(microseconds=1)
    lookback_start_us, outages = report_outages(as_of)
    settled_before = lookback_start_us + SETTLED_MARGIN_US
    expected = {
        outage
        for outage in outages
        if outage[2] is None or outage[2] > settled_before or backed(outage, stores, lookback_start_us)
    }
    assert current_incidents(lookback_start_us) == expected
    assert Incident.objects.count() == len(expected)  # none retracted, none older
