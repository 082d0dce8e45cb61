"""The store page's outages, percentages, evidence, assumed time and week links (issue 11),
through Django's test client, with the README's worked example of rules 10-13."""

import datetime as dt
import re

import pytest

from reports.generation import compute_report
from tests.assertions import absent_from, page_text
from tests.factories import BusinessHoursFactory, StatusPollFactory, StoreFactory, TimezoneFactory
from tests.reports.conftest import at

pytestmark = pytest.mark.django_db
HOUR_US = 3_600_000_000
MINUTE_US = 60_000_000
TUE, WED, SUN = 1, 2, 6


def us(text):
    return int(at(text).timestamp()) * 1_000_000


@pytest.fixture
def example_c(third_example):
    return third_example


def cells(page):
    """{CSV column: shown text} of the figures beside the timeline."""
    return dict(re.findall(r'data-column="([a-z_]+)">([^<]*)<', page))


def listed_outages(page):
    """(number, when, duration, flags, session) of each listed outage, in page order."""
    items = re.findall(r'<li id="outage-item-(\d+)"[^>]*>(.*?)</li>', page, re.S)
    return [
        (
            int(number),
            re.search(r'class="outage-when"[^>]*>([^<]*)<', body).group(1),
            re.search(r'class="outage-duration">([^<]*)<', body).group(1),
            re.findall(r'class="flag [^"]*">([^<]*)<', body),
            re.search(r'class="outage-session">([^<]*)<', body).group(1),
        )
        for number, body in items
    ]


def marks(page):
    """(number, start, end) of every outage mark drawn on the timeline."""
    found = re.findall(r'<rect class="outage[^"]*"[^>]*data-outage="(\d+)" data-start="(\d+)" data-end="(\d+)"', page)
    return [(int(n), int(start), int(end)) for n, start, end in found]


def assumed(page):
    return [
        (int(start), int(end))
        for start, end in re.findall(r'<rect class="assumed"[^>]*data-start="(\d+)" data-end="(\d+)"', page)
    ]


def test_the_worked_example_shows_its_outages_percentages_and_evidence(client, example_c):
    page = page_text(client.get("/stores/c/", {"as_of": "2023-01-25T12:00:00Z"}))
    shown = cells(page)
    assert [shown[f"outages_last_{w}"] for w in ("hour", "day", "week")] == ["1", "2", "3"]
    assert [shown[f"uptime_percent_last_{w}"] for w in ("hour", "day", "week")] == ["0.00 %", "12.50 %", "6.25 %"]
    assert [shown[f"polls_last_{w}"] for w in ("hour", "day", "week")] == ["0", "3", "3"]
    assert shown["longest_outage_last_week"] == "12.00 h"
    # The same values as the store's row of an extended report.
    row = next(compute_report(as_of=at("2023-01-25 12:00")).figures.rows(extended=True))
    assert f'data-extended-row="{",".join(row)}"' in page


def test_the_worked_example_lists_its_three_outages_newest_first_in_local_time(client, example_c):
    page = page_text(client.get("/stores/c/", {"as_of": "2023-01-25T12:00:00Z"}))
    assert listed_outages(page) == [
        (3, "Wed 25 Jan 10:30–12:00 UTC", "1 h 30 min", ["ongoing"], "session Wed 25 Jan 09:00–21:00"),
        (2, "Tue 24 Jan 09:00–21:00 UTC", "12 h 00 min", [], "session Tue 24 Jan 09:00–21:00"),
        # The week starts at Wed 18 Jan 12:00: 9 of its 12 hours are in it.
        (
            1,
            "Wed 18 Jan 09:00–21:00 UTC",
            "12 h 00 min (9 h 00 min in the week)",
            ["began before the week"],
            "session Wed 18 Jan 09:00–21:00",
        ),
    ]
    # Each links to its mark on the timeline, which links back.
    assert not absent_from(page, 'href="#outage-3">Wed 25 Jan 10:30', 'id="outage-3"', '<a href="#outage-item-3">')


def test_every_outage_is_marked_on_the_timeline_over_the_red(client, example_c):
    page = page_text(client.get("/stores/c/", {"as_of": "2023-01-25T12:00:00Z"}))
    week_start = us("2023-01-18 12:00")
    assert marks(page) == [
        (1, week_start, us("2023-01-18 21:00")),  # cut to the week
        (2, us("2023-01-24 09:00"), us("2023-01-24 21:00")),
        (3, us("2023-01-25 10:30"), us("2023-01-25 12:00")),
    ]
    red = re.findall(r'data-status="inactive" data-start="(\d+)" data-end="(\d+)"', page)
    assert sum(end - start for _, start, end in marks(page)) == sum(int(e) - int(s) for s, e in red)
    assert "ongoing" in re.search(r'<rect class="outage( ongoing)?" id="outage-3"', page).group(0)


def test_business_time_far_from_every_evidence_poll_is_hatched_as_assumed(client, example_c):
    page = page_text(client.get("/stores/c/", {"as_of": "2023-01-25T12:00:00Z"}))
    # Polls cover 90 minutes either side: Tue 19:20-22:20 and Wed 08:00-12:00. Last Wednesday
    # (no poll) and Tuesday before 19:20 are assumed; nothing of today is.
    assert assumed(page) == [
        (us("2023-01-18 12:00"), us("2023-01-18 21:00")),
        (us("2023-01-24 09:00"), us("2023-01-24 19:20")),
    ]
    assert not absent_from(page, 'id="assumed-hatch"', "assumed: no evidence poll within 90 min")


def test_the_evidence_radius_is_a_setting(client, settings, example_c):
    settings.EVIDENCE_RADIUS_MINUTES = 600
    page = page_text(client.get("/stores/c/", {"as_of": "2023-01-25T12:00:00Z"}))
    # Ten hours around Tue 20:50 start at 10:50.
    assert assumed(page) == [
        (us("2023-01-18 12:00"), us("2023-01-18 21:00")),
        (us("2023-01-24 09:00"), us("2023-01-24 10:50")),
    ]
    assert "no evidence poll within 600 min" in page


def test_a_store_polled_all_through_its_hours_has_nothing_assumed_and_no_outage(client):
    store = StoreFactory(store_id="steady")
    TimezoneFactory(store=store, timezone_str="UTC")
    BusinessHoursFactory(store=store, day_of_week=WED, start_time_local=dt.time(9), end_time_local=dt.time(12))
    for when in ("2023-01-18 09:30", "2023-01-18 11:00", "2023-01-25 09:10", "2023-01-25 11:40"):
        StatusPollFactory(store=store, timestamp_utc=at(when), status="active")
    page = page_text(client.get("/stores/steady/", {"as_of": "2023-01-25T12:00:00Z"}))
    assert assumed(page) == []
    assert marks(page) == []
    assert "No outage in the week." in page
    assert cells(page)["uptime_percent_last_week"] == "100.00 %"


def test_an_outage_across_the_change_to_daylight_saving_time_names_both_offsets(client):
    store = StoreFactory(store_id="dst")
    TimezoneFactory(store=store, timezone_str="America/Chicago")
    BusinessHoursFactory(store=store, day_of_week=SUN, start_time_local=dt.time(0), end_time_local=dt.time(6))
    StatusPollFactory(store=store, timestamp_utc=at("2023-03-12 08:00"), status="inactive")
    page = page_text(client.get("/stores/dst/", {"as_of": "2023-03-13T00:00:00Z"}))
    # 00:00 CST is 06:00 UTC, 06:00 CDT is 11:00 UTC: 5 hours.
    assert listed_outages(page) == [
        (1, "Sun 12 Mar 00:00 CST–06:00 CDT", "5 h 00 min", [], "session Sun 12 Mar 00:00–06:00")
    ]
    # Closed at as_of: the hour holds no business time, so it has no uptime percent.
    assert '<td data-column="uptime_percent_last_hour"><span title="No business time in this window">–</span>' in page


# --- Previous and next week ----------------------------------------------------------------


@pytest.fixture
def daily_polls():
    """A store open all the time in UTC, polled every day at noon from 1 to 25 January 2023."""
    store = StoreFactory(store_id="w")
    TimezoneFactory(store=store, timezone_str="UTC")
    for day in range(1, 26):
        StatusPollFactory(store=store, timestamp_utc=at(f"2023-01-{day:02d} 12:00"), status="active")


def week_links(page):
    return {
        name: href.replace("&amp;", "&")
        for name, href in re.findall(r'id="(previous-week|next-week|newest-week)"[^>]*href="([^"]*)"', page)
    }


@pytest.mark.parametrize(
    ("query", "links"),
    [
        (
            {"as_of": "2023-01-18T12:00:00Z", "method": "nearest"},
            {
                "previous-week": "/stores/w/?as_of=2023-01-11T12%3A00%3A00Z&method=nearest",
                "next-week": "/stores/w/?as_of=2023-01-25T12%3A00%3A00Z&method=nearest",
            },
        ),
        # The newest poll: a week later would pass it by more than a day.
        ({}, {"previous-week": "/stores/w/?as_of=2023-01-18T12%3A00%3A00Z"}),
        # Exactly a day past the newest poll is still a week to show.
        (
            {"as_of": "2023-01-19T12:00:00Z"},
            {
                "previous-week": "/stores/w/?as_of=2023-01-12T12%3A00%3A00Z",
                "next-week": "/stores/w/?as_of=2023-01-26T12%3A00%3A00Z",
            },
        ),
        # A week later would pass the newest poll: the newest week instead.
        (
            {"as_of": "2023-01-21T12:00:00Z"},
            {"previous-week": "/stores/w/?as_of=2023-01-14T12%3A00%3A00Z", "newest-week": "/stores/w/"},
        ),
        # No poll in the 14 days before 26 December: no week before.
        ({"as_of": "2023-01-02T12:00:00Z"}, {"next-week": "/stores/w/?as_of=2023-01-09T12%3A00%3A00Z"}),
    ],
)
def test_the_page_links_the_previous_and_next_week_where_there_is_one(client, daily_polls, query, links):
    page = page_text(client.get("/stores/w/", query))
    assert week_links(page) == links
    for href in links.values():
        assert client.get(href).status_code == 200
    # A missing one is shown greyed, not as a link.
    assert page.count('class="week-link disabled"') == 2 - len(links)


def test_a_bad_as_of_still_gets_a_400_page_without_week_links(client, daily_polls):
    page = page_text(client.get("/stores/w/", {"as_of": "2023-02-01 25:00"}), 400)
    assert week_links(page) == {}
