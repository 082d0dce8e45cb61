"""Fixtures of the incident tests: feed files imported by the real loader, deliveries not sent."""

from pathlib import Path

import pytest

from monitoring.imports import import_feeds
from monitoring.ingestion import Feed
from tests.monitoring.csv_files import hours_file, polls_file, timezones_file


class FeedImporter:
    """Writes feed files into a temporary folder and imports them with ``import_feeds``, as
    load_csvs, the push API and the folder watcher do (each call is one import)."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.files = 0

    def _name(self, feed: str) -> str:
        self.files += 1
        return f"{feed}-{self.files}.csv"

    def polls(self, *polls: tuple[str, str, str], force: bool = False):
        """Polls as (store_id, "active" or "inactive", UTC time ``2023-01-25 11:15``)."""
        rows = [f"{store_id},{status},{when}:00 UTC" for store_id, status, when in polls]
        path = polls_file(self.folder, rows, name=self._name("polls"))
        return import_feeds({Feed.POLLS: path}, source="command", force=force)

    def hours(self, *rows: tuple[str, int, str, str], force: bool = False):
        """Hours rows as (store_id, day 0 = Monday, local opening, local closing)."""
        lines = [f"{store_id},{day},{opens},{closes}" for store_id, day, opens, closes in rows]
        return import_feeds({Feed.HOURS: hours_file(self.folder, lines, name=self._name("hours"))}, source="command")

    def zones(self, *rows: tuple[str, str]):
        lines = [f"{store_id},{zone}" for store_id, zone in rows]
        path = timezones_file(self.folder, lines, name=self._name("zones"))
        return import_feeds({Feed.TIMEZONES: path}, source="command")


@pytest.fixture
def feeds(db, tmp_path) -> FeedImporter:
    folder = tmp_path / "feeds"
    folder.mkdir()
    return FeedImporter(folder)


@pytest.fixture
def queued(monkeypatch) -> list[int]:
    """The delivery pks a run hands to alerts.delivery.queue_delivery (sending is not tested here)."""
    pks: list[int] = []
    monkeypatch.setattr("alerts.runs.queue_delivery", lambda pk, at=None: pks.append(pk))
    return pks
