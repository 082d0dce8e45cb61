"""Ingestion of the CSV feeds: status polls, business hours, time zones and store owners.

``load_feeds`` is the entry point for the ``load_csvs`` command, tests and any later caller;
``choose_feed_files``/``find_feed_files`` map a directory to feed files.
"""

from monitoring.ingestion.discovery import choose_feed_files, find_feed_files
from monitoring.ingestion.errors import IngestionError, InvalidRow, InvalidRows
from monitoring.ingestion.feeds import Feed
from monitoring.ingestion.loading import FeedSummary, LoadSummary, database_has_polls, load_feeds
from monitoring.ingestion.progress import ProgressFactory, TerminalProgress

__all__ = [
    "Feed",
    "FeedSummary",
    "IngestionError",
    "InvalidRow",
    "InvalidRows",
    "LoadSummary",
    "ProgressFactory",
    "TerminalProgress",
    "choose_feed_files",
    "database_has_polls",
    "find_feed_files",
    "load_feeds",
]
