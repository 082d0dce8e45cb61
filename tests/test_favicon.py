"""The site's icon: every page names it, and /favicon.ico (asked for by pages that name none, such as
the admin's) leads to it, instead of a 404 in the log for every page."""

import re

import pytest
from django.contrib.staticfiles import finders
from django.templatetags.static import static

pytestmark = pytest.mark.django_db

ICO_MAGIC = b"\x00\x00\x01\x00"


def static_path(url: str) -> str:
    return url.removeprefix(static(""))


def test_favicon_ico_is_a_permanent_redirect_to_the_static_icon(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 301
    icon = finders.find(static_path(response["Location"]))
    assert icon is not None, response["Location"]
    with open(icon, "rb") as file:
        assert file.read(4) == ICO_MAGIC


@pytest.mark.parametrize("path", ["/", "/stores/nowhere/"])  # a page, and the 404 page
def test_every_page_names_icons_that_exist(client, path):
    page = client.get(path).content.decode()
    icons = re.findall(r'<link rel="icon" href="([^"]+)"(?: sizes="[^"]+")?(?: type="([^"]+)")?>', page)
    assert {kind for _, kind in icons} == {"", "image/svg+xml"}  # an ICO for every browser, an SVG for most
    for href, kind in icons:
        found = finders.find(static_path(href))
        assert found is not None, href
        with open(found, "rb") as file:
            start = file.read(100)
        assert start.startswith(b"<svg") if kind == "image/svg+xml" else start.startswith(ICO_MAGIC)
