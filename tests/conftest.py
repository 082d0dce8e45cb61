"""Fixtures shared by the whole suite."""

import os
from pathlib import Path

import pytest
from django.db import connection

# The real public feeds of the original assignment live next to the project, never inside it
# (STOREMONITOR_SHARED_DATA points elsewhere, e.g. for a clone in another directory).
SHARED_DATA_DIR = Path(
    os.environ.get("STOREMONITOR_SHARED_DATA") or Path(__file__).resolve().parent.parent.parent / "shared" / "data"
)


def is_postgresql() -> bool:
    return connection.vendor == "postgresql"


@pytest.fixture
def shared_data_dir() -> Path:
    """The directory of the real feeds; tests using it skip when it is absent."""
    if not SHARED_DATA_DIR.is_dir():
        pytest.skip(f"real feeds not present at {SHARED_DATA_DIR}")
    return SHARED_DATA_DIR


def pytest_collection_modifyitems(config, items):
    skip_pg = pytest.mark.skip(reason="needs PostgreSQL: set DATABASE_URL=postgres://...")
    if connection.vendor != "postgresql":
        for item in items:
            if "postgres" in item.keywords:
                item.add_marker(skip_pg)


@pytest.fixture
def two_owners(db):
    """Owners A and B, each with one user and one store, and a staff user: the scoping tests' world.

    Returns a namespace: owner_a, owner_b, user_a, user_b, staff, store_a, store_b (store ids
    "store-a" and "store-b"), and store_none (no owner, visible to staff only).
    """
    from types import SimpleNamespace

    from tests.factories import OwnerFactory, StoreFactory, UserFactory

    user_a = UserFactory(username="alice")
    user_b = UserFactory(username="bob")
    staff = UserFactory(username="staff", is_staff=True)
    owner_a = OwnerFactory(name="Alpha Pizza", slug="alpha", users=[user_a])
    owner_b = OwnerFactory(name="Beta Burgers", slug="beta", users=[user_b])
    return SimpleNamespace(
        owner_a=owner_a,
        owner_b=owner_b,
        user_a=user_a,
        user_b=user_b,
        staff=staff,
        store_a=StoreFactory(store_id="store-a", owner=owner_a),
        store_b=StoreFactory(store_id="store-b", owner=owner_b),
        store_none=StoreFactory(store_id="store-none"),
    )


@pytest.fixture(autouse=True)
def _empty_cache():
    """Every test starts with an empty cache (rate limits count there)."""
    from django.core.cache import cache

    cache.clear()


@pytest.fixture(scope="module")
def playwright_and_chromium():
    """``(playwright, browser)`` for a browser test module (tests.browser.chromium_session).

    Module-scoped: started before a test's database use, so the test's ORM calls share the
    test's one connection (Playwright's greenlet would otherwise get one of its own, left open
    at teardown)."""
    from tests.browser import chromium_session

    with chromium_session() as started:
        yield started


@pytest.fixture(scope="module")
def browser(playwright_and_chromium):
    """Debian's Chromium for a browser test module."""
    return playwright_and_chromium[1]
