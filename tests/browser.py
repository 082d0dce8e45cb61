"""Debian's Chromium, driven by Playwright, for the browser tests and the docs' screenshots.

Never a browser that Playwright downloads itself: that download fails on our machines.
"""

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

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
    import pytest

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
