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
