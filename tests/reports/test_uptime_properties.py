"""Property tests: the fast engine against the plain reference, on random stores and times."""

import datetime as dt
import math

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reports.uptime import FeedArrays, compute_uptime, outage_rows
from reports.uptime.inputs import epoch_microseconds
from tests.reports.uptime_reference import outage_csv_rows, store_figures, store_outage_list

UTC = dt.UTC
LOOKBACK = dt.timedelta(days=14)
TOLERANCE_HOURS = 1e-6
# `nearest` cuts at midpoints rounded down to the microsecond; the reference keeps them exact.
TOLERANCE_US = 1
HOUR_US = 3_600_000_000
WEEK_US = 7 * 86_400_000_000
ZONES = [
    "UTC",
    "America/Chicago",
    "America/New_York",
    "America/Phoenix",
    "Pacific/Honolulu",
    "Asia/Beirut",
    "Asia/Kolkata",
    "Europe/London",
    "Australia/Sydney",
    "Australia/Lord_Howe",  # a 30-minute daylight-saving shift
]
# Instants near daylight-saving changes of the zones above, so the week often straddles one.
ANCHORS = [
    dt.datetime(2023, 1, 25, 18, 13, 22, tzinfo=UTC),
    dt.datetime(2023, 3, 12, 8, 0, tzinfo=UTC),
    dt.datetime(2023, 3, 26, 1, 0, tzinfo=UTC),
    dt.datetime(2023, 4, 2, 0, 0, tzinfo=UTC),
    dt.datetime(2023, 10, 1, 0, 0, tzinfo=UTC),
    dt.datetime(2023, 10, 29, 1, 0, tzinfo=UTC),
    dt.datetime(2023, 11, 5, 7, 0, tzinfo=UTC),
    dt.datetime(2024, 10, 3, 23, 33, 20, tzinfo=UTC),
]
# Times of day that stress the rules: midnight, DST gap and fold hours, the last second.
SPECIAL_TIMES = [
    dt.time(0, 0),
    dt.time(0, 10),
    dt.time(1, 30),
    dt.time(2, 0),
    dt.time(2, 30),
    dt.time(3, 0),
    dt.time(9, 0),
    dt.time(12, 0),
    dt.time(23, 59),
    dt.time(23, 59, 59),
]

times_of_day = st.one_of(
    st.sampled_from(SPECIAL_TIMES),
    st.builds(dt.time, st.integers(0, 23), st.integers(0, 59), st.sampled_from([0, 30, 59])),
)
hours_rows = st.tuples(st.integers(0, 6), times_of_day, times_of_day)


@st.composite
def as_of_instants(draw):
    anchor = draw(st.sampled_from(ANCHORS))
    shift = draw(st.integers(-10 * 86_400_000_000, 10 * 86_400_000_000))
    return anchor + dt.timedelta(microseconds=shift)


@st.composite
def stores(draw, as_of):
    # Poll offsets before as_of, in microseconds; includes the lookback's edges and as_of.
    span = (LOOKBACK + dt.timedelta(days=2)) // dt.timedelta(microseconds=1)
    edges = [0, LOOKBACK // dt.timedelta(microseconds=1)]
    offsets = draw(st.sets(st.one_of(st.integers(-3_600_000_000, span), st.sampled_from(edges)), max_size=40))
    polls = [(as_of - dt.timedelta(microseconds=o), draw(st.booleans())) for o in sorted(offsets)]
    hours = draw(st.one_of(st.just([]), st.lists(hours_rows, min_size=1, max_size=12)))
    zone = draw(st.one_of(st.none(), st.sampled_from(ZONES)))
    return polls, hours, zone


@st.composite
def scenarios(draw):
    as_of = draw(as_of_instants())
    n_stores = draw(st.integers(1, 4))
    return as_of, [draw(stores(as_of)) for _ in range(n_stores)]


def feeds_of(store_list):
    polls, hours, zones = [], [], {}
    for i, (store_polls, store_hours, zone) in enumerate(store_list):
        store_id = f"store-{i}"
        polls += [(store_id, t, a) for t, a in store_polls]
        hours += [(store_id, day, opens, closes) for day, opens, closes in store_hours]
        if zone:
            zones[store_id] = zone
    return FeedArrays.from_rows(polls, hours, zones, default_zone="America/Chicago")


def run_engine(as_of, store_list, method, **options):
    lookback_us = LOOKBACK // dt.timedelta(microseconds=1)
    return compute_uptime(feeds_of(store_list), epoch_microseconds(as_of), lookback_us, method, **options)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenario=scenarios(), method=st.sampled_from(["last_known", "nearest"]))
def test_the_engine_matches_the_reference_for_every_store_and_window(scenario, method):
    as_of, store_list = scenario
    result = run_engine(as_of, store_list, method)
    expected = {}
    for i, (store_polls, store_hours, zone) in enumerate(store_list):
        figures = store_figures(store_polls, store_hours, zone or "America/Chicago", as_of, LOOKBACK, method)
        if figures is not None:
            expected[f"store-{i}"] = figures
    assert result.store_ids == sorted(expected)
    hour_us = 3_600_000_000
    for row, store_id in enumerate(result.store_ids):
        for window in ("hour", "day", "week"):
            want = expected[store_id][window]
            got = {
                "uptime": result.uptime_us[window][row] / hour_us,
                "downtime": result.downtime_us[window][row] / hour_us,
                "business": result.business_us[window][row] / hour_us,
            }
            for which in got:
                assert abs(got[which] - float(want[which])) <= TOLERANCE_HOURS, (store_id, window, which)
            # Rules 11-13.
            assert result.outage_counts[window][row] == want["outages"], (store_id, window)
            assert result.evidence_polls[window][row] == want["polls"], (store_id, window)
            percent = result.uptime_percent(window)[row]
            if want["uptime_percent"] is None:
                assert np.isnan(percent), (store_id, window)
            else:
                # Half a microsecond of uptime per cut weighs more in a short window.
                business_us = result.business_us[window][row]
                slack = 100 * 2 * TOLERANCE_US / business_us + 1e-9
                assert abs(percent - float(want["uptime_percent"])) <= slack, (store_id, window)
        longest = result.longest_outage_us[row] / hour_us
        assert abs(longest - float(expected[store_id]["week"]["longest_outage"])) <= TOLERANCE_HOURS, store_id


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenario=scenarios(), method=st.sampled_from(["last_known", "nearest"]))
def test_uptime_plus_downtime_is_business_time_and_windows_nest(scenario, method):
    as_of, store_list = scenario
    result = run_engine(as_of, store_list, method)
    lengths = {"hour": 3_600_000_000, "day": 86_400_000_000, "week": 7 * 86_400_000_000}
    for window, length in lengths.items():
        up, down = result.uptime_us[window], result.downtime_us[window]
        np.testing.assert_array_equal(up + down, result.business_us[window])
        assert (up >= 0).all()
        assert (down >= 0).all()
        assert (result.business_us[window] <= length).all()
    for which in (result.uptime_us, result.downtime_us, result.business_us):
        assert (which["hour"] <= which["day"]).all()
        assert (which["day"] <= which["week"]).all()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenario=scenarios(), method=st.sampled_from(["last_known", "nearest"]))
def test_the_engine_lists_the_same_outages_as_the_reference(scenario, method):
    as_of, store_list = scenario
    feeds = feeds_of(store_list)
    result = run_engine(as_of, store_list, method)
    as_of_us, lookback_start_us = epoch_microseconds(as_of), epoch_microseconds(as_of - LOOKBACK)
    csv_rows = list(outage_rows(result.outages, feeds.store_ids, feeds.store_zones))
    expected_csv_rows = []
    for i, (store_polls, store_hours, zone) in enumerate(store_list):
        store_id = f"store-{i}"
        expected = store_outage_list(store_polls, store_hours, zone or "America/Chicago", as_of, LOOKBACK, method)
        if expected is None:
            assert store_id not in result.store_ids
            continue
        position = feeds.store_ids.index(store_id)
        got = result.store_outages(position)
        assert len(got) == len(expected), store_id
        for k, (start, end, session_start, session_end, ongoing) in enumerate(expected):
            # The engine's midpoints are the exact ones rounded down.
            assert (got.start[k], got.end[k]) == (math.floor(start), math.floor(end)), (store_id, k)
            # The engine holds sessions cut to the lookback's start and a day past as_of.
            assert got.session_start[k] == max(session_start, lookback_start_us), (store_id, k)
            assert got.session_end[k] == min(session_end, as_of_us + 86_400_000_000), (store_id, k)
            assert got.ongoing[k] == ongoing, (store_id, k)
        expected_csv_rows += outage_csv_rows(store_id, expected, zone or "America/Chicago")
    assert csv_rows == sorted(expected_csv_rows, key=lambda row: (row[0], row[1]))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenario=scenarios(), method=st.sampled_from(["last_known", "nearest"]))
def test_outages_add_up_to_the_downtime_of_every_window_to_the_microsecond(scenario, method):
    as_of, store_list = scenario
    result = run_engine(as_of, store_list, method)
    outages, as_of_us = result.outages, result.as_of_us
    lookback_start_us = as_of_us - result.lookback_us
    lengths = {"hour": HOUR_US, "day": 86_400_000_000, "week": WEEK_US}
    n_positions = int(result.store_index.max(initial=-1)) + 1
    for window, length in lengths.items():
        inside = np.bincount(outages.store, weights=outages.overlap_us(as_of_us - length), minlength=n_positions)
        np.testing.assert_array_equal(inside[result.store_index].astype(np.int64), result.downtime_us[window])
    assert (result.outage_counts["hour"] <= result.outage_counts["day"]).all()
    assert (result.outage_counts["day"] <= result.outage_counts["week"]).all()
    assert (result.longest_outage_us <= result.downtime_us["week"]).all()
    assert ((result.longest_outage_us > 0) == (result.outage_counts["week"] > 0)).all()
    # Within the lookback, inside their session, disjoint and apart, sorted; ongoing ones end at as_of.
    assert (outages.start >= lookback_start_us).all()
    assert (outages.end <= as_of_us).all()
    assert (outages.start < outages.end).all()
    assert (outages.session_start <= outages.start).all()
    assert (outages.end <= outages.session_end).all()
    assert (np.diff(outages.store) >= 0).all()
    same_store = outages.store[1:] == outages.store[:-1]
    assert (outages.start[1:][same_store] > outages.end[:-1][same_store]).all()
    assert (outages.end[outages.ongoing] == as_of_us).all()


@settings(max_examples=60, deadline=None)
@given(scenario=scenarios(), method=st.sampled_from(["last_known", "nearest"]))
def test_status_segments_tile_the_business_sessions_exactly(scenario, method):
    as_of, store_list = scenario
    result = run_engine(as_of, store_list, method)
    sessions, segments = result.sessions, result.segments
    assert (segments.end > segments.start).all()
    for store in np.unique(sessions.store):
        spans = list(zip(sessions.start[sessions.store == store], sessions.end[sessions.store == store], strict=True))
        pieces = sorted(
            zip(segments.start[segments.store == store], segments.end[segments.store == store], strict=True)
        )
        # Consecutive pieces meet exactly, and where they leave a gap a new session begins.
        rebuilt = []
        for start, end in pieces:
            if rebuilt and rebuilt[-1][1] == start:
                rebuilt[-1] = (rebuilt[-1][0], end)
            else:
                rebuilt.append((start, end))
        assert rebuilt == spans


def _transitions_near(zone_name, anchor):
    """(weekday, local times around the change) for each offset change of a zone near anchor."""
    from zoneinfo import ZoneInfo

    zone = ZoneInfo(zone_name)
    found = []
    probe = anchor - dt.timedelta(days=20)
    previous = probe.astimezone(zone).utcoffset()
    while probe < anchor + dt.timedelta(days=20):
        probe += dt.timedelta(minutes=15)
        offset = probe.astimezone(zone).utcoffset()
        if offset != previous:
            before_local = (probe + previous).replace(tzinfo=None)  # the clock just before
            after_local = (probe + offset).replace(tzinfo=None)
            times = {
                (moment + dt.timedelta(minutes=delta)).time()
                for moment in (before_local, after_local)
                for delta in (-30, -15, 0, 15, 30)
            }
            found.append((before_local.weekday(), sorted(times)))
            previous = offset
    return found


DST_CASES = [
    ("America/Chicago", dt.datetime(2023, 3, 12, 8, 0, tzinfo=UTC)),
    ("America/Chicago", dt.datetime(2023, 11, 5, 7, 0, tzinfo=UTC)),
    ("Europe/London", dt.datetime(2023, 3, 26, 1, 0, tzinfo=UTC)),
    ("Europe/London", dt.datetime(2023, 10, 29, 1, 0, tzinfo=UTC)),
    ("Asia/Beirut", dt.datetime(2023, 3, 25, 22, 0, tzinfo=UTC)),
    ("Australia/Sydney", dt.datetime(2023, 4, 1, 16, 0, tzinfo=UTC)),
    ("Australia/Lord_Howe", dt.datetime(2023, 9, 30, 15, 30, tzinfo=UTC)),
]


@st.composite
def dst_scenarios(draw):
    zone, anchor = draw(st.sampled_from(DST_CASES))
    weekday, times = _transitions_near(zone, anchor)[0]
    as_of = anchor + dt.timedelta(microseconds=draw(st.integers(0, 6 * 86_400_000_000)))
    polls, _, _ = draw(stores(as_of))
    around_change = st.sampled_from(times)
    rows = draw(
        st.lists(
            st.tuples(st.sampled_from([weekday, (weekday - 1) % 7]), around_change, around_change),
            min_size=1,
            max_size=6,
        )
    )
    return as_of, [(polls, rows, zone)]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenario=dst_scenarios(), method=st.sampled_from(["last_known", "nearest"]))
def test_the_engine_matches_the_reference_when_hours_fall_in_daylight_saving_changes(scenario, method):
    test_the_engine_matches_the_reference_for_every_store_and_window.hypothesis.inner_test(scenario, method)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenario=scenarios(), method=st.sampled_from(["last_known", "nearest"]), block=st.integers(1, 30))
def test_working_through_blocks_of_stores_changes_nothing(scenario, method, block):
    as_of, store_list = scenario
    whole = run_engine(as_of, store_list, method)
    blocked = run_engine(as_of, store_list, method, block_polls=block)
    assert blocked.store_ids == whole.store_ids
    for figures in ("uptime_us", "downtime_us", "business_us", "evidence_polls", "outage_counts"):
        for window in ("hour", "day", "week"):
            np.testing.assert_array_equal(getattr(blocked, figures)[window], getattr(whole, figures)[window])
    np.testing.assert_array_equal(blocked.longest_outage_us, whole.longest_outage_us)
    for field in ("store", "start", "end", "session_start", "session_end", "ongoing"):
        np.testing.assert_array_equal(getattr(blocked.outages, field), getattr(whole.outages, field))


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenario=scenarios(), method=st.sampled_from(["last_known", "nearest"]), seed=st.integers(0, 2**32 - 1))
def test_polls_in_store_and_time_order_or_shuffled_give_the_same_figures(scenario, method, seed):
    """The engine skips its sort when the polls come in (store, time) order: the same polls in
    that order, shuffled, and with a poll repeated under the other status, agree."""
    as_of, store_list = scenario
    feeds = feeds_of(store_list)
    rng = np.random.default_rng(seed)
    # A repeated (store, time) counts once, inactive first (rule 5): repeat one poll flipped.
    extra = rng.integers(len(feeds.poll_store)) if len(feeds.poll_store) else None
    store, time, active = feeds.poll_store, feeds.poll_time_us, feeds.poll_active
    if extra is not None:
        store, time, active = np.r_[store, store[extra]], np.r_[time, time[extra]], np.r_[active, ~active[extra]]
    in_order = np.lexsort((active, time, store))  # by (store, time); the repeat may come first or second
    shuffled = rng.permutation(len(store))
    lookback_us = LOOKBACK // dt.timedelta(microseconds=1)
    results = []
    for order in (in_order, shuffled, in_order[::-1]):
        arranged = FeedArrays(
            **{**feeds.__dict__, "poll_store": store[order], "poll_time_us": time[order], "poll_active": active[order]}
        )
        results.append(compute_uptime(arranged, epoch_microseconds(as_of), lookback_us, method))
    first = results[0]
    for other in results[1:]:
        assert other.store_ids == first.store_ids
        for figures in ("uptime_us", "downtime_us", "business_us", "evidence_polls"):
            for window in ("hour", "day", "week"):
                np.testing.assert_array_equal(getattr(other, figures)[window], getattr(first, figures)[window])
