"""Debian's Chromium, driven by Playwright, for the browser tests and the docs' screenshots.

Never a browser that Playwright downloads itself: that download fails on our machines.
"""

from pathlib import Path

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
