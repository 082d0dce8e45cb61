"""The pages in a real browser: Debian's Chromium driven by Playwright against live_server.

Jobs run in django-q2's sync mode (settings_test), so a report triggered from the dashboard
completes within the request; the real-worker end-to-end tests live in test_worker_e2e.py.
"""

import datetime as dt
import uuid
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command
from playwright.sync_api import expect

from monitoring.models import Store
from reports.generation import compute_report
from reports.models import Report
from tests.browser import ADMIN_LOGIN, BROWSER_TEST_MARKS, WAIT_MS, assert_admin_list_fits, sign_in_to_admin
from tests.factories import BusinessHoursFactory, StatusPollFactory, StoreFactory, TimezoneFactory

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "sample"
WIDTHS = {"phone": 375, "wide": 1280}
UTC = dt.UTC
HOUR_US = 3_600_000_000

pytestmark = BROWSER_TEST_MARKS


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
    Report.objects.create(
        status="Failed",
        error="The job queue could not be reached (ConnectionError: Error 111 connecting to 127.0.0.1:6379. "
        "Connection refused.); trigger the report again.",
    )
    Report.objects.create(status="Complete", progress=1.0, store_count=0)
    Report.objects.create(status="Running", progress=0.5)
    store_id = Store.objects.order_by("store_id").values_list("store_id", flat=True).first()
    page = open_page(width)
    for path in ("/", f"/stores/{store_id}/", "/stores/no-such-store/", f"/stores/{store_id}/?as_of=bad"):
        page.goto(f"{live_server.url}{path}")
        assert not scrolls_sideways(page), f"{path} scrolls sideways at {width} px"
    # Nor does the reports table inside its box: report, status, progress and CSV fit a phone.
    page.goto(f"{live_server.url}/")
    page.wait_for_function("document.getElementById('reports-table').dataset.updated")
    assert page.evaluate("(box => box.scrollWidth <= box.clientWidth)(document.querySelector('#reports .table-wrap'))")
    assert page.locator("#reports-table a.download").first.is_visible()


# --- Generating a report, copying its id ---------------------------------------------------


def visible_in_viewport(page, selector) -> bool:
    return page.evaluate(
        """selector => { const box = document.querySelector(selector).getBoundingClientRect();
             return box.top >= 0 && box.bottom <= window.innerHeight && box.height > 0; }""",
        selector,
    )


def test_a_bad_as_of_is_kept_and_explained_beside_the_field(live_server, open_page, sample_data):
    page = open_page()
    page.goto(f"{live_server.url}/")
    page.fill("#id_as_of", "yesterday noon")
    page.select_option("#id_method", "nearest")
    with page.expect_navigation() as navigation:
        page.click("#generate-report")
    assert navigation.value.status == 400
    assert page.input_value("#id_as_of") == "yesterday noon"
    assert page.input_value("#id_method") == "nearest"
    error = page.locator("#id_as_of_error")
    assert "“yesterday noon” is not a time" in error.inner_text()
    assert page.get_attribute("#id_as_of", "aria-describedby") == "id_as_of_helptext id_as_of_error"
    assert visible_in_viewport(page, "#id_as_of_error")
    assert Report.objects.count() == 0


@pytest.mark.parametrize("width", WIDTHS.values(), ids=WIDTHS.keys())
def test_a_new_report_is_announced_beside_it_and_highlighted(live_server, open_page, sample_data, width):
    for _ in range(3):
        Report.objects.create(status="Complete", progress=1.0, store_count=300)
    page = open_page(width)
    page.goto(f"{live_server.url}/")
    page.click("#generate-report")
    page.wait_for_url("**/?new=*#reports")
    report = Report.objects.order_by("-created_at", "-id").first()
    assert (
        page.locator("#report-messages").inner_text() == f"Report {report.report_id} queued: its status updates below."
    )
    # On a phone the page scrolls to the reports: the sentence and the row are on screen.
    assert visible_in_viewport(page, "#report-messages")
    assert visible_in_viewport(page, f"#report-{report.report_id}")
    assert page.locator(".messages").count() == 1  # nothing at the top of the page
    # The table's own updates (reports.js) keep the highlight, on that row alone.
    page.wait_for_function("document.getElementById('reports-table').dataset.updated")
    assert page.locator("#reports-table tr.new-report").count() == 1
    assert page.locator("#reports-table tr.new-report").get_attribute("data-report-id") == report.report_id


def test_the_copy_button_copies_the_whole_report_id(live_server, open_page):
    report = Report.objects.create(status="Complete", progress=1.0, store_count=3)
    page = open_page()
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    page.goto(f"{live_server.url}/")
    page.wait_for_function("document.getElementById('reports-table').dataset.updated")
    row = page.locator(f"#report-{report.report_id}")
    assert row.locator("code.id").inner_text() == report.report_id
    button = row.locator("button.copy-id")
    button.click()
    # The clipboard write is a promise: the button says so once it has resolved.
    expect(button).to_have_text("Copied")
    assert page.evaluate("navigator.clipboard.readText()") == report.report_id


def test_the_rows_the_script_draws_read_as_the_rows_the_server_drew(live_server, open_page, sample_data):
    """reports.js rebuilds the table from the API: the same words, classes and links as
    templates/includes/report_row.html, for every kind of report."""
    now = dt.datetime.now(UTC)
    Report.objects.create(status="Pending")
    Report.objects.create(status="Failed", error="The job queue could not be reached; trigger the report again.")
    Report.objects.create(status="Complete", progress=1.0, store_count=0, started_at=now, finished_at=now)
    new = Report.objects.create(
        status="Complete",
        progress=1.0,
        store_count=300,
        as_of=dt.datetime(2023, 1, 25, 18, 13, 22, 479220, tzinfo=UTC),
        method="nearest",
        started_at=now - dt.timedelta(seconds=2),
        finished_at=now,
    )
    rows = """root => [...root.querySelectorAll('#reports-table tbody tr')].map(row => ({
        id: row.id, className: row.className, status: row.dataset.status,
        cells: [...row.cells].map(cell => cell.textContent.replace(/\\s+/g, ' ').trim()),
        links: [...row.querySelectorAll('a')].map(a => new URL(a.getAttribute('href'), location.href).pathname),
        classes: [...row.querySelectorAll('[class]')].map(element => element.className)}))"""
    page = open_page()
    url = f"{live_server.url}/?new={new.report_id}"
    server_html = page.request.get(url).text()
    page.goto(url)
    page.wait_for_function("document.getElementById('reports-table').dataset.updated")
    drawn = page.evaluate(rows.replace("root =>", "() => { const root = document; return") + "; }")
    served = page.evaluate(
        f"html => ({rows})(new DOMParser().parseFromString(html, 'text/html'))",
        server_html,
    )
    assert len(drawn) == 4
    assert drawn == served
    assert [row["className"] for row in drawn] == ["new-report", "", "", ""]


# --- The admin at 1280 px ------------------------------------------------------------------


@pytest.fixture
def realistic_admin_data(django_user_model):
    """Stores as one public feed has them (UUID ids, long zone names, several intervals a day)
    and reports of every kind, one with a long error."""
    django_user_model.objects.create_superuser(ADMIN_LOGIN[0], "admin@example.com", ADMIN_LOGIN[1])
    zones = ["America/Indiana/Indianapolis", "America/Los_Angeles", "Australia/Sydney", None]
    start = dt.datetime(2024, 10, 3, tzinfo=UTC)
    for n in range(12):
        store = StoreFactory(store_id=str(uuid.UUID(int=0xFFFEFAD8F53844F5A7743CF2B3B225BA - n * 7919)))
        if zones[n % 4]:
            TimezoneFactory(store=store, timezone_str=zones[n % 4])
        for day in range(7):
            BusinessHoursFactory(store=store, day_of_week=day, start_time_local=dt.time(0), end_time_local=dt.time(1))
            BusinessHoursFactory(
                store=store, day_of_week=day, start_time_local=dt.time(10), end_time_local=dt.time(23, 59, 59)
            )
        if n % 3:
            StatusPollFactory(store=store, timestamp_utc=start + dt.timedelta(minutes=n), status="inactive")
    StoreFactory(store_id="8139926242460185114")  # a 2023 feed's id: 19 digits in one piece
    now = dt.datetime.now(UTC)
    Report.objects.create(status="Pending")
    Report.objects.create(status="Running", progress=0.42, started_at=now)
    Report.objects.create(
        status="Failed",
        error="The job queue could not be reached (ConnectionError: Error 111 connecting to 127.0.0.1:6379. "
        "Connection refused.); trigger the report again.",
    )
    Report.objects.create(status="Complete", progress=1.0, store_count=0, started_at=now, finished_at=now)
    Report.objects.create(
        status="Complete",
        progress=1.0,
        store_count=14_000,
        as_of=dt.datetime(2023, 1, 25, 18, 13, 22, 479220, tzinfo=UTC),
        method="nearest",
        started_at=now - dt.timedelta(seconds=123.4),
        finished_at=now,
    )


@pytest.mark.parametrize(
    ("path", "headers"),
    [
        (
            "/admin/monitoring/store/",
            ["Store id", "Page", "Time zone", "Business hours", "Newest poll (UTC)", "Status", "Owner"],
        ),
        (
            "/admin/reports/report/",
            ["Report id", "Status", "As of (UTC), method", "Stores of", "Run time", "CSV", "Created (UTC)"],
        ),
    ],
    ids=["stores", "reports"],
)
def test_the_admin_lists_fit_a_1280_px_window_with_the_sidebars_open(
    live_server, browser, realistic_admin_data, path, headers
):
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    context.set_default_timeout(WAIT_MS)
    try:
        page = context.new_page()
        sign_in_to_admin(page, live_server.url, path)
        assert_admin_list_fits(page, live_server.url, path, headers)
    finally:
        context.close()


# --- Outages, assumed time and the dashboard's summary (issue 11) ----------------------------


@pytest.fixture
def stores_with_outages():
    """UUID-named stores in a long zone name, two sessions a day, polled about hourly with
    stretches of inactive polls and a gap of a day with no poll; the first store offline for
    the last three hours."""
    start = dt.datetime(2024, 10, 3, tzinfo=UTC)
    store_ids = [str(uuid.UUID(int=0xFFFEFAD8F53844F5A7743CF2B3B225BA - n * 7919)) for n in range(12)]
    for n, store_id in enumerate(store_ids):
        store = StoreFactory(store_id=store_id)
        TimezoneFactory(store=store, timezone_str="America/Indiana/Indianapolis")
        for day in range(7):
            BusinessHoursFactory(store=store, day_of_week=day, start_time_local=dt.time(7), end_time_local=dt.time(11))
            BusinessHoursFactory(store=store, day_of_week=day, start_time_local=dt.time(13), end_time_local=dt.time(22))
        for hour in range(10 * 24):
            if 100 <= hour < 124:  # a day without polls: assumed
                continue
            inactive = (hour + n) % 9 in (0, 1) or (n == 0 and hour >= 10 * 24 - 3)
            StatusPollFactory(
                store=store,
                timestamp_utc=start + dt.timedelta(hours=hour, minutes=7 * n),
                status="inactive" if inactive else "active",
            )
    return store_ids


@pytest.mark.parametrize("width", WIDTHS.values(), ids=WIDTHS.keys())
def test_the_store_page_with_its_outages_reads_without_sideways_scroll(
    live_server, open_page, stores_with_outages, width
):
    store_id = stores_with_outages[0]
    page = open_page(width)
    page.goto(f"{live_server.url}/stores/{store_id}/")
    assert not scrolls_sideways(page), f"the store page scrolls sideways at {width} px"
    items = page.locator("#outage-list li")
    assert items.count() == int(page.locator('td[data-column="outages_last_week"]').inner_text())
    assert items.count() > 5
    assert page.locator("#timeline rect.assumed").count() > 0
    assert page.locator("#timeline rect.outage").count() >= items.count()
    # Newest first, the ongoing one on top; every item fits the page's width.
    assert "ongoing" in items.first.inner_text()
    assert page.evaluate(
        "[...document.querySelectorAll('#outage-list li')].every(li => li.scrollWidth <= li.clientWidth + 1)"
    )
    # The figures table fits its box.
    assert page.evaluate("(t => t.scrollWidth <= t.parentElement.clientWidth + 1)(document.getElementById('figures'))")
    # An item's link goes to its mark on the timeline.
    number = items.nth(1).get_attribute("id").removeprefix("outage-item-")
    items.nth(1).locator("a.outage-when").click()
    assert page.evaluate("location.hash") == f"#outage-{number}"
    assert page.locator(f"#outage-{number}").count() == 1
    page.locator("#previous-week").click()
    page.locator("#timeline").wait_for()
    assert "as_of=" in page.url
    assert not scrolls_sideways(page)


@pytest.mark.parametrize("width", WIDTHS.values(), ids=WIDTHS.keys())
def test_the_dashboards_summary_reads_without_sideways_scroll(live_server, open_page, stores_with_outages, width):
    page = open_page(width)
    page.goto(f"{live_server.url}/")
    assert not scrolls_sideways(page), f"the dashboard scrolls sideways at {width} px"
    assert page.locator("#attention-table tbody tr").count() == 10
    assert page.evaluate(
        "(box => box.scrollWidth <= box.clientWidth)(document.querySelector('#attention .table-wrap'))"
    )
    # The first store is offline for its last three hours, longer than the others at the end.
    offline = page.locator("#offline-list li")
    assert offline.count() >= 1
    assert offline.first.get_attribute("data-store-id") == stores_with_outages[0]
    offline.first.locator("a.store-id").click()
    page.locator("#outage-list").wait_for()
    assert page.url.endswith(f"/stores/{stores_with_outages[0]}/")
