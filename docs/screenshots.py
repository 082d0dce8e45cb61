#!/usr/bin/env python
"""Take the screenshots of docs/pages.md from the committed sample data.

    .venv/bin/python docs/screenshots.py

Sets up a throw-away SQLite database in a temporary directory (migrate, load_csvs data/sample,
an admin user), serves it with runserver, generates two reports from the dashboard in
Debian's Chromium (through Playwright) and saves the pages as PNG files next to this script.
Jobs run inside the request (the test settings' sync mode), so no worker is needed. A second
small data set whose week contains the US change to daylight-saving time of 12 March 2023 is
loaded last, for the 23-hour day. Nothing outside the temporary directory and docs/ changes.
"""

import csv
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
sys.path.insert(0, str(ROOT))

from tests.browser import launch_chromium  # noqa: E402  (after the path is set)

PYTHON = sys.executable
ADMIN = ("admin", "screenshots")


def main() -> None:
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="storemonitor-shots-") as scratch:
        env = environment(Path(scratch))
        manage(env, "migrate", "-v0")
        manage(env, "load_csvs", "data/sample")
        manage(env, "createsuperuser", "--noinput", "--username", ADMIN[0], "--email", "admin@example.com")
        port = free_port()
        server = subprocess.Popen(
            [PYTHON, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            wait_until_up(base)
            with sync_playwright() as playwright:
                browser = launch_chromium(playwright)
                take_all(browser, base, env, Path(scratch))
                browser.close()
        finally:
            server.terminate()
            server.wait(timeout=30)


def take_all(browser, base: str, env: dict, scratch: Path) -> None:
    wide = browser.new_context(viewport={"width": 1280, "height": 800}, device_scale_factor=1)
    page = wide.new_page()
    page.set_default_timeout(120_000)

    # Two reports through the dashboard's button, like a user would.
    page.goto(f"{base}/")
    page.select_option("#id_method", "nearest")
    page.click("#generate-report")
    page.locator('#reports-table tr[data-status="Complete"]').first.wait_for()
    page.click("#generate-report")
    page.wait_for_function("document.querySelectorAll('#reports-table tr[data-status=\"Complete\"]').length >= 2")
    page.goto(f"{base}/")
    page.wait_for_timeout(500)
    shoot(page, "dashboard.png")

    store_id = store_to_show(page, base)
    page.goto(f"{base}/stores/{store_id}/")
    shoot(page, "store-week.png")

    phone = browser.new_context(viewport={"width": 375, "height": 740}, device_scale_factor=2)
    phone_page = phone.new_page()
    phone_page.goto(f"{base}/")
    phone_page.wait_for_timeout(500)
    shoot(phone_page, "dashboard-phone.png")
    phone_page.goto(f"{base}/stores/{store_id}/")
    shoot(phone_page, "store-week-phone.png")
    phone.close()

    page.goto(f"{base}/admin/login/")
    page.fill("#id_username", ADMIN[0])
    page.fill("#id_password", ADMIN[1])
    page.click("input[type=submit]")
    page.goto(f"{base}/admin/monitoring/store/")
    if page.locator("#toggle-nav-sidebar").is_visible():
        page.click("#toggle-nav-sidebar")  # more room for the list
    page.evaluate("window.scrollTo(0, 0)")
    page.wait_for_timeout(300)
    shoot(page, "admin-stores.png", full_page=False)
    page.goto(f"{base}/admin/reports/report/")
    shoot(page, "admin-reports.png", full_page=False)

    # An owner's Notifications page, with a webhook channel (staff pick the owner).
    manage(env, "add_channel", "--owner", "bella-napoli", "--webhook", "https://hooks.example.com/storemonitor")
    page.goto(f"{base}/notifications/?owner=bella-napoli")
    shoot(page, "notifications.png")

    # A week with the spring change to daylight-saving time (12 March 2023 in the US).
    dst_feeds = scratch / "dst"
    manage(
        env,
        "generate_sample_data",
        "--stores",
        "12",
        "--days",
        "9",
        "--seed",
        "12",
        "--straddle-dst",
        "--out",
        str(dst_feeds),
    )
    manage(env, "load_csvs", str(dst_feeds))
    dst_store = dst_store_to_show(dst_feeds)
    page.goto(f"{base}/stores/{dst_store}/")
    shoot(page, "store-week-dst.png")
    wide.close()


def store_to_show(page, base: str) -> str:
    """A store with both colours and business hours: the most downtime among stores up more
    than down, from the newest report's CSV."""
    report_id = page.locator("#reports-table tr[data-status='Complete']").first.get_attribute("data-report-id")
    with urllib.request.urlopen(f"{base}/api/reports/{report_id}/csv") as response:
        rows = list(csv.DictReader(response.read().decode().splitlines()))
    mixed = [r for r in rows if 0 < float(r["downtime_last_week"]) < float(r["uptime_last_week"])]
    return max(mixed, key=lambda r: float(r["downtime_last_week"]))["store_id"]


def dst_store_to_show(feeds: Path) -> str:
    """A store of the daylight-saving data set in a US zone that changes clocks, with hours."""
    zones = {r["store_id"]: r["timezone_str"] for r in csv.DictReader((feeds / "timezones.csv").open())}
    with_hours = {r["store_id"] for r in csv.DictReader((feeds / "menu_hours.csv").open())}
    changing = {
        "America/New_York",
        "America/Los_Angeles",
        "America/Denver",
        "America/Chicago",
        "America/Detroit",
        "America/Boise",
    }
    candidates = sorted(s for s in with_hours if zones.get(s, "America/Chicago") in changing)
    return candidates[0]


def shoot(page, name: str, full_page: bool = True) -> None:
    path = DOCS / name
    page.screenshot(path=str(path), full_page=full_page)
    print(f"wrote {path.relative_to(ROOT)}")


def environment(scratch: Path) -> dict:
    env = dict(os.environ)
    env.pop("REDIS_URL", None)
    env.update(
        DJANGO_SETTINGS_MODULE="storemonitor.settings_test",  # jobs run inside the request
        DATABASE_URL=f"sqlite:///{scratch / 'screenshots.sqlite3'}",
        STOREMONITOR_VAR_DIR=str(scratch),
        DEBUG="1",
        DJANGO_SUPERUSER_PASSWORD=ADMIN[1],
    )
    return env


def manage(env: dict, *args: str) -> None:
    subprocess.run([PYTHON, "manage.py", *args], cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until_up(base: str) -> None:
    for _ in range(120):
        try:
            urllib.request.urlopen(f"{base}/", timeout=5)
            return
        except OSError:
            time.sleep(0.5)
    sys.exit(f"the server at {base} did not start")


if __name__ == "__main__":
    main()
