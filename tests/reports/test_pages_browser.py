"""The pages in a real browser: Debian's Chromium driven by Playwright against live_server.

Jobs run in django-q2's sync mode (settings_test), so a report triggered from the dashboard
completes within the request; the real-worker end-to-end tests live in test_worker_e2e.py.
"""

import datetime as dt
import os
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command

from monitoring.models import Store
from reports.generation import compute_report
from reports.models import Report
from tests.browser import CHROMIUM, launch_chromium
from tests.factories import StatusPollFactory, StoreFactory

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "sample"
WIDTHS = {"phone": 375, "wide": 1280}
WAIT_MS = 60_000  # generous: the machine is shared; nothing here depends on speed
UTC = dt.UTC
HOUR_US = 3_600_000_000

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="browser tests need Debian's Chromium at /usr/bin/chromium "
        "(apt-get install chromium chromium-driver; .ci/run installs it)",
    ),
    pytest.mark.django_db(transaction=True),
]


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright is not installed (requirements/dev.txt)")
    # Playwright's sync API runs an event loop in this thread, so Django would take the tests'
    # own (ordinary, synchronous) ORM calls for calls from async code. Only for these tests.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_api.sync_playwright() as playwright:
            chromium = launch_chromium(playwright)
            yield chromium
            chromium.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def open_page(browser):
    contexts = []

    def open_page(width=WIDTHS["wide"]):
        context = browser.new_context(viewport={"width": width, "height": 900}, accept_downloads=True)
        context.set_default_timeout(WAIT_MS)
        contexts.append(context)
        return context.new_page()

    yield open_page
    for context in contexts:
        context.close()


@pytest.fixture
def sample_data():
    call_command("load_csvs", str(SAMPLE), verbosity=0)


def scrolls_sideways(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth > window.innerWidth")


def drawn_us(page, status) -> int:
    """Sum of end - start (µs, exact in JS numbers) over the drawn rectangles of a status."""
    return page.evaluate(
        """status => [...document.querySelectorAll(`#timeline rect.segment[data-status="${status}"]`)]
             .reduce((sum, r) => sum + (Number(r.dataset.end) - Number(r.dataset.start)), 0)""",
        status,
    )


def drawn_width(page, status) -> float:
    return page.evaluate(
        """status => [...document.querySelectorAll(`#timeline rect.segment[data-status="${status}"]`)]
             .reduce((sum, r) => sum + r.width.baseVal.value, 0)""",
        status,
    )


def local_days(zone, as_of) -> int:
    """Local dates the window [as_of - 7 days, as_of) touches, counted with zoneinfo."""
    first = (as_of - dt.timedelta(days=7)).astimezone(ZoneInfo(zone)).date()
    last = (as_of - dt.timedelta(microseconds=1)).astimezone(ZoneInfo(zone)).date()
    return (last - first).days + 1


def test_generate_a_report_from_the_dashboard_and_download_the_same_csv_as_the_api(
    live_server, open_page, sample_data, tmp_path
):
    page = open_page()
    page.goto(f"{live_server.url}/")
    assert page.locator("#stat-stores").inner_text() == "300"
    page.click("#generate-report")
    row = page.locator('#reports-table tr[data-status="Complete"]').first
    row.wait_for()
    report = Report.objects.get()
    assert report.status == "Complete"
    assert report.store_count == 300
    with page.expect_download() as download_info:
        row.locator("a.download").click()
    downloaded = tmp_path / "downloaded.csv"
    download_info.value.save_as(downloaded)
    from_api = page.request.get(f"{live_server.url}/get_report?report_id={report.report_id}")
    assert from_api.ok
    assert from_api.headers["content-type"].startswith("text/csv")
    assert downloaded.read_bytes() == from_api.body()
    assert downloaded.read_text().count("\n") == 301


def test_the_dashboard_shows_live_status_and_progress_from_the_api(live_server, open_page):
    report = Report.objects.create(status="Pending")
    page = open_page()
    page.goto(f"{live_server.url}/")
    row = page.locator(f'#reports-table tr[data-report-id="{report.report_id}"]')
    assert row.get_attribute("data-status") == "Pending"
    Report.objects.filter(pk=report.pk).update(status="Running", progress=0.5, started_at=dt.datetime.now(UTC))
    page.locator(f'tr[data-report-id="{report.report_id}"][data-status="Running"] .pct:text-is("50%")').wait_for()
    Report.objects.filter(pk=report.pk).update(
        status="Complete", progress=1.0, finished_at=dt.datetime.now(UTC), csv_file="reports/x.csv"
    )
    link = page.locator(f'tr[data-report-id="{report.report_id}"][data-status="Complete"] a.download')
    link.wait_for()
    assert link.get_attribute("href").endswith(f"/api/reports/{report.report_id}/csv")


def test_the_store_week_draws_a_row_per_local_day_and_the_figures_in_green_and_red(live_server, open_page, sample_data):
    data = compute_report()
    figures = data.figures
    # The store with the most downtime in the week: plenty of red and green to add up.
    position = int(figures.downtime_us["week"].argmax())
    store_id = figures.store_ids[position]
    zone = data.feeds.store_zones[int(figures.store_index[position])]
    page = open_page()
    page.goto(f"{live_server.url}/stores/{store_id}/")
    assert page.locator("#timeline g.day").count() == local_days(zone, data.as_of)
    up, down = drawn_us(page, "active"), drawn_us(page, "inactive")
    assert up == figures.uptime_us["week"][position]
    assert down == figures.downtime_us["week"][position]
    # ...and the figures beside the drawing say the same, within the CSV's rounding.
    shown_up = float(page.locator('td[data-column="uptime_last_week"]').inner_text().split()[0])
    shown_down = float(page.locator('td[data-column="downtime_last_week"]').inner_text().split()[0])
    assert abs(up / HOUR_US - shown_up) <= 0.005
    assert abs(down / HOUR_US - shown_down) <= 0.005
    assert page.locator("#figures").get_attribute("data-row") == ",".join(
        next(r for r in figures.rows() if r[0] == store_id)
    )
    # The drawn lengths are the durations at one scale (24 h across the chart in a normal week).
    scale = page.evaluate("document.querySelector('#timeline').viewBox.baseVal.width") - 104 - 14
    assert drawn_width(page, "active") == pytest.approx(up / HOUR_US * scale / 24, abs=0.5)
    assert drawn_width(page, "inactive") == pytest.approx(down / HOUR_US * scale / 24, abs=0.5)
    assert page.locator("figcaption strong").inner_text() == zone


def test_a_daylight_saving_week_has_a_23_hour_row_and_still_adds_up(live_server, open_page):
    store = StoreFactory(store_id="dst")  # America/Chicago by default, open 24/7
    start = dt.datetime(2023, 3, 8, tzinfo=UTC)
    for hour in range(0, 8 * 24, 5):
        StatusPollFactory(
            store=store, timestamp_utc=start + dt.timedelta(hours=hour), status="inactive" if hour % 3 else "active"
        )
    as_of = dt.datetime(2023, 3, 15, 18, tzinfo=UTC)
    page = open_page()
    page.goto(f"{live_server.url}/stores/dst/?as_of=2023-03-15T18:00:00Z&method=nearest")
    assert page.locator("#timeline g.day").count() == local_days("America/Chicago", as_of) == 8
    assert page.locator('#timeline g.day.dst[data-date="2023-03-12"] .day-note').text_content() == "23 h day"
    figures = compute_report(as_of=as_of, method="nearest", store_id="dst").figures
    assert drawn_us(page, "active") == figures.uptime_us["week"][0]
    assert drawn_us(page, "inactive") == figures.downtime_us["week"][0]
    assert drawn_us(page, "active") + drawn_us(page, "inactive") == 7 * 24 * HOUR_US


def test_the_search_box_opens_a_store_and_an_unknown_id_gets_the_friendly_404(live_server, open_page, sample_data):
    store_id = Store.objects.order_by("store_id").values_list("store_id", flat=True).first()
    page = open_page()
    page.goto(f"{live_server.url}/")
    page.fill("#store-search", store_id)
    page.press("#store-search", "Enter")
    page.locator("#timeline").wait_for()
    assert page.url.endswith(f"/stores/{store_id}/")
    response = page.goto(f"{live_server.url}/stores/?store_id=no-such-store")
    assert response.status == 404
    assert page.locator("h1").inner_text() == "No store “no-such-store”"


@pytest.mark.parametrize("width", WIDTHS.values(), ids=WIDTHS.keys())
def test_no_page_scrolls_sideways(live_server, open_page, sample_data, width):
    Report.objects.create(status="Failed", error="An example error for the table.")
    store_id = Store.objects.order_by("store_id").values_list("store_id", flat=True).first()
    page = open_page(width)
    for path in ("/", f"/stores/{store_id}/", "/stores/no-such-store/", f"/stores/{store_id}/?as_of=bad"):
        page.goto(f"{live_server.url}{path}")
        assert not scrolls_sideways(page), f"{path} scrolls sideways at {width} px"
