"""The owners' parts of the admin in a real browser: the stores list with its owner column and the
owners list fit a 1280×800 window with the admin's sidebars open, long owner names included."""

import uuid

import pytest

from tests.browser import ADMIN_LOGIN, BROWSER_TEST_MARKS, WAIT_MS, assert_admin_list_fits, sign_in_to_admin
from tests.factories import BusinessHoursFactory, OwnerFactory, StoreFactory, TimezoneFactory, UserFactory

LONG_NAME = "The Grand Old Harbourside Fish, Chips and Seafood Restaurant Company of Portsmouth and Southsea"

pytestmark = BROWSER_TEST_MARKS


@pytest.fixture
def owned_stores(django_user_model):
    """UUID stores with long zone names and two intervals a day, most of them owned, one owner
    with a very long name and many users."""
    django_user_model.objects.create_superuser(ADMIN_LOGIN[0], "admin@example.com", ADMIN_LOGIN[1])
    long_owner = OwnerFactory(name=LONG_NAME, slug="grand-old-harbourside", users=[UserFactory() for _ in range(3)])
    owners = [long_owner, OwnerFactory(name="Le Petit Café", slug="le-petit-cafe"), None]
    for n in range(12):
        store = StoreFactory(store_id=str(uuid.UUID(int=0xFFFEFAD8F53844F5A7743CF2B3B225BA - n * 7919)))
        store.owner = owners[n % 3]
        store.save()
        TimezoneFactory(store=store, timezone_str="America/Indiana/Indianapolis")
        for day in range(7):
            BusinessHoursFactory(store=store, day_of_week=day)
    for n in range(20):
        OwnerFactory(name=f"Restaurant Group {n + 1} with a rather long business name", slug=f"group-{n + 1}")


@pytest.mark.parametrize(
    ("path", "headers"),
    [
        (
            "/admin/monitoring/store/",
            ["Store id", "Page", "Time zone", "Business hours", "Newest poll (UTC)", "Status", "Owner"],
        ),
        ("/admin/monitoring/owner/", ["Name", "Slug", "Stores", "Users"]),
    ],
    ids=["stores", "owners"],
)
def test_the_owner_column_and_the_owners_list_fit_a_1280_px_window_with_the_sidebars_open(
    live_server, browser, owned_stores, path, headers
):
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    context.set_default_timeout(WAIT_MS)
    try:
        page = context.new_page()
        sign_in_to_admin(page, live_server.url, path)
        assert_admin_list_fits(page, live_server.url, path, headers, filters=False)
    finally:
        context.close()


def test_the_owner_page_fits_a_1280_px_window_and_picks_users_side_by_side(live_server, browser, owned_stores):
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    context.set_default_timeout(WAIT_MS)
    try:
        page = context.new_page()
        sign_in_to_admin(page, live_server.url, "/admin/monitoring/owner/add/", ready="#id_name")
        # Typed key by key: the admin's script fills the slug on key presses.
        page.locator("#id_name").press_sequentially("Smokey's BBQ & Grill")
        page.locator("#id_users_from").wait_for()  # filter_horizontal's "available" box
        assert page.input_value("#id_slug") == "smokeys-bbq-grill"
        assert not page.evaluate("() => document.documentElement.scrollWidth > window.innerWidth")
    finally:
        context.close()
