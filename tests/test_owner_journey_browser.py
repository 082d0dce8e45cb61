"""An owner's first session in a real browser (Debian's Chromium, Playwright, live_server):
sign in, create an API token, trigger a report through the API with it, download the CSV.

With ALLOW_ANONYMOUS off, as in production. Jobs run in django-q2's sync mode (settings_test),
so the triggered report is Complete when the trigger's transaction commits.
"""

import csv
import datetime as dt
import io

import pytest
from playwright.sync_api import expect

from accounts.models import ApiToken
from reports.models import Report
from tests.browser import BROWSER_TEST_MARKS, WAIT_MS
from tests.factories import OwnerFactory, StatusPollFactory, StoreFactory, UserFactory

PASSWORD = "a long enough test password"  # UserFactory's

pytestmark = BROWSER_TEST_MARKS


@pytest.fixture
def browser_and_http(playwright_and_chromium):
    """A page in Chromium, and Playwright's HTTP client (no cookies of the page) for the API."""
    playwright, chromium = playwright_and_chromium
    context = chromium.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    context.set_default_timeout(WAIT_MS)
    http = playwright.request.new_context()
    yield context.new_page(), http
    http.dispose()
    context.close()


@pytest.fixture
def alice_and_stores():
    """alice of owner Alpha with two stores; owner Beta's store, which alice must never see."""
    alice = UserFactory(username="alice")
    alpha = OwnerFactory(name="Alpha Pizza", slug="alpha", users=[alice])
    beta = OwnerFactory(name="Beta Burgers", slug="beta")
    start = dt.datetime(2023, 1, 24, 12, tzinfo=dt.UTC)
    for store_id, owner, active in (("alpha-1", alpha, True), ("alpha-2", alpha, False), ("beta-1", beta, True)):
        store = StoreFactory(store_id=store_id, owner=owner)
        for hour in range(30):
            status = "active" if active or hour % 3 else "inactive"
            StatusPollFactory(store=store, timestamp_utc=start + dt.timedelta(hours=hour), status=status)
    return alice


def test_an_owner_signs_in_creates_a_token_triggers_a_report_with_it_and_downloads_the_csv(
    live_server, browser_and_http, alice_and_stores, settings, tmp_path
):
    settings.ALLOW_ANONYMOUS = False
    page, http = browser_and_http
    # Signed out, the dashboard sends the visitor to the sign-in page, and comes back after it.
    page.goto(f"{live_server.url}/")
    assert page.url.startswith(f"{live_server.url}/account/login/")
    page.fill("input[name=username]", "alice")
    page.fill("input[name=password]", PASSWORD)
    page.click("form.sign-in button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")

    # The API tokens page: a named token, shown once.
    page.goto(f"{live_server.url}/account/tokens/")
    page.fill("input[name=name]", "nightly script")
    page.click("form.new-token button[type=submit]")
    token = page.locator("#new-token-value").inner_text().strip()
    # Its Copy button copies it whole (copy.js, as beside report ids).
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    copy = page.locator("#new-token button.copy-id")
    copy.click()
    expect(copy).to_have_text("Copied")
    assert page.evaluate("navigator.clipboard.readText()") == token
    assert ApiToken.objects.get(name="nightly script").user.username == "alice"
    assert not ApiToken.objects.filter(digest=token).exists()

    # The API with the token, outside the browser's session (no cookies): trigger, then poll.
    without_token = http.post(f"{live_server.url}/trigger_report")
    assert without_token.status == 401
    assert "error" in without_token.json()
    triggered = http.post(
        f"{live_server.url}/trigger_report",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        data="{}",
    )
    assert triggered.status == 202, triggered.text()
    report_id = triggered.json()["report_id"]
    report = Report.objects.get(report_id=report_id)
    assert report.owner.slug == "alpha"
    assert report.status == Report.Status.COMPLETE
    from_api = http.get(
        f"{live_server.url}/get_report?report_id={report_id}", headers={"Authorization": f"Token {token}"}
    )
    assert from_api.status == 200
    rows = list(csv.DictReader(io.StringIO(from_api.text())))
    assert [row["store_id"] for row in rows] == ["alpha-1", "alpha-2"]

    # The dashboard lists the report; its CSV link downloads the same bytes.
    page.goto(f"{live_server.url}/")
    link = page.locator(f'tr[data-report-id="{report_id}"] a.download')
    with page.expect_download() as download_info:
        link.click()
    downloaded = tmp_path / "downloaded.csv"
    download_info.value.save_as(downloaded)
    assert downloaded.read_bytes() == from_api.body()
