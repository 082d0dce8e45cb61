"""Debian's Chromium, driven by Playwright, for the browser tests and the docs' screenshots.

Never a browser that Playwright downloads itself: that download fails on our machines.
"""

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
# Headless as root, and no background connections: the machines have no internet access.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


# Every browser test module's marks (``pytestmark = BROWSER_TEST_MARKS``): slow, skipped without
# Chromium, and a transactional database (the live server's threads must see the test's rows).
BROWSER_TEST_MARKS = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="browser tests need Debian's Chromium at /usr/bin/chromium "
        "(apt-get install chromium chromium-driver; .ci/run installs it)",
    ),
    pytest.mark.django_db(transaction=True),
]
WAIT_MS = 60_000  # generous: the machine is shared; nothing here depends on speed


def launch_chromium(playwright):
    """A headless Chromium browser from ``sync_playwright()``'s object."""
    return playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)


@contextmanager
def chromium_session() -> Iterator[tuple[Any, Any]]:
    """``(playwright, browser)`` for a test module: Playwright's sync API with Debian's Chromium.

    Skips the test when Playwright is not installed. Playwright's sync API runs an event loop in
    this thread, so Django would take the tests' own (ordinary, synchronous) ORM calls for calls
    from async code: DJANGO_ALLOW_ASYNC_UNSAFE is set for as long as the session lasts.
    """
    sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright is not installed (requirements/dev.txt)")
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_api.sync_playwright() as playwright:
            browser = launch_chromium(playwright)
            try:
                yield playwright, browser
            finally:
                browser.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


# --- The admin's lists at a given width -----------------------------------------------------

ADMIN_LOGIN = ("admin", "a-long-enough-password")
# A changelist's table and its header cells: wider than their box means a sideways scroll or a
# header cut off ("NEWE…"). Header words without the sort priority a sorted column shows.
_ADMIN_LIST_WIDTHS = """() => {
  const box = document.querySelector('#changelist-form .results');
  const table = document.getElementById('result_list');
  const headers = [...table.querySelectorAll('thead th')];
  return {
    scrolls: box.scrollWidth > box.clientWidth || table.getBoundingClientRect().width > box.clientWidth + 0.5,
    page_scrolls: document.documentElement.scrollWidth > window.innerWidth,
    clipped: headers.filter(th => th.scrollWidth > th.clientWidth
      || th.getBoundingClientRect().right > box.getBoundingClientRect().right + 0.5
      || [...th.querySelectorAll('*')].some(inner => inner.scrollWidth > inner.clientWidth
                                           && getComputedStyle(inner).overflow !== 'visible'))
      .map(th => th.innerText.trim()),
    headers: headers.map(th => (th.querySelector('.text') || th).innerText.trim()).filter(Boolean),
  };
}"""


def sign_in_to_admin(page, base_url: str, next_path: str, ready: str = "#result_list") -> None:
    """Sign in as ADMIN_LOGIN on the admin's login page, then wait for ``ready`` on ``next_path``."""
    page.goto(f"{base_url}/admin/login/?next={next_path}")
    page.fill("#id_username", ADMIN_LOGIN[0])
    page.fill("#id_password", ADMIN_LOGIN[1])
    page.click("input[type=submit]")
    page.locator(ready).wait_for()


def assert_admin_list_fits(page, base_url: str, path: str, headers: list[str], *, filters: bool = True) -> None:
    """The changelist at ``path``, unsorted and sorted by its first column descending (a sorted
    header carries the sort buttons too), with the admin's sidebars open as a new user sees them:
    these ``headers`` (any case), no sideways scroll, no header cut off."""
    for sort in ("", "?o=-1"):
        page.goto(f"{base_url}{path}{sort}")
        assert page.locator("#nav-sidebar").is_visible()
        if filters:
            assert page.locator("#changelist-filter").is_visible()
        measured = page.evaluate(_ADMIN_LIST_WIDTHS)
        assert [header.casefold() for header in measured["headers"]] == [h.casefold() for h in headers]
        assert not measured["scrolls"], f"{path}{sort} scrolls sideways"
        assert not measured["page_scrolls"], f"{path}{sort}: the page scrolls sideways"
        assert measured["clipped"] == [], f"{path}{sort}: headers cut off"
