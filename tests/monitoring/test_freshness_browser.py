"""The dashboard's "Data freshness" section on a phone, in Debian's Chromium (live_server)."""

import datetime as dt
import uuid

from django.contrib.auth.models import User

from monitoring.ingestion import load_feeds
from monitoring.models import Import
from tests.browser import ADMIN_LOGIN, BROWSER_TEST_MARKS, WAIT_MS, sign_in_to_admin
from tests.monitoring.csv_files import polls_file

pytestmark = BROWSER_TEST_MARKS


def test_on_a_phone_the_section_fits_with_uuid_stores_and_big_imports(live_server, browser, tmp_path):
    User.objects.create_superuser(ADMIN_LOGIN[0], "admin@example.com", ADMIN_LOGIN[1])
    quiet = [str(uuid.UUID(int=n)) for n in range(1, 13)]
    rows = ["reporter,active,2023-01-25 18:00:00 UTC", *(f"{s},active,2023-01-25 12:00:00 UTC" for s in quiet)]
    load_feeds(polls=polls_file(tmp_path, rows))
    finished = dt.datetime(2023, 1, 25, 18, 5, tzinfo=dt.UTC)
    for feed in ("timezones", "polls"):
        Import.objects.create(
            source=Import.Source.FOLDER,
            name=f"bq-results-20230125-181322-{feed}-export-with-a-long-name.csv.gz",
            feed=feed,
            started_at=finished,
            finished_at=finished,
            status=Import.Status.COMPLETE,
            rows_read=1_870_736,
            rows_inserted=1_870_736,
        )
    context = browser.new_context(viewport={"width": 375, "height": 900})
    context.set_default_timeout(WAIT_MS)
    try:
        page = context.new_page()
        sign_in_to_admin(page, live_server.url, "/", ready="#freshness")

        assert page.locator("#not-reporting-list li").count() == 10
        assert page.locator("#imports-table tbody tr").count() == 2
        assert not page.evaluate("document.documentElement.scrollWidth > window.innerWidth")
        assert page.evaluate(
            "(box => box.scrollWidth <= box.clientWidth)(document.querySelector('#freshness .table-wrap'))"
        )
    finally:
        context.close()
