"""Which file of a directory holds which feed."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings

from monitoring.ingestion.errors import IngestionError
from monitoring.ingestion.feeds import (
    EXPORT_FILE_PREFIX,
    SPECS,
    Feed,
    feed_of_header,
    normalise_file_stem,
    wrong_delimiter,
)
from monitoring.ingestion.reading import read_header

CSV_SUFFIXES = (".csv.gz", ".csv")
EXPECTED_NAMES = (
    "store_status.csv, menu_hours.csv, timezones.csv and store_owners.csv (or .csv.gz; "
    "also the older names 'Menu hours.csv' and bq-results-*.csv)"
)


def find_feed_files(directory: Path | str) -> dict[Feed, Path]:
    """The feed files in ``directory`` by feed: the usual names in any case, with spaces or
    hyphens for underscores, ``.csv`` or ``.csv.gz``; a ``bq-results-*.csv`` export is the feed
    its header matches. Two files for one feed are an error, as is a directory without any."""
    directory = Path(directory)
    if not directory.exists():
        raise IngestionError(str(directory), "no such directory")
    if not directory.is_dir():
        raise IngestionError(str(directory), "is not a directory; give the directory holding the feed files")
    found: dict[Feed, list[Path]] = {}
    for path in sorted(directory.iterdir()):
        feed = feed_of_file(path)
        if feed is not None:
            found.setdefault(feed, []).append(path)
    for feed, paths in found.items():
        if len(paths) > 1:
            names = " and ".join(path.name for path in paths)
            raise IngestionError(
                str(directory),
                f"holds two {feed.value} files, {names}; remove one or name it with --{feed.value}",
            )
    if not found:
        raise IngestionError(str(directory), f"holds none of the feed files {EXPECTED_NAMES}")
    return {feed: found[feed][0] for feed in Feed if feed in found}


def choose_feed_files(
    directory: Path | str | None = None,
    *,
    polls: Path | str | None = None,
    hours: Path | str | None = None,
    timezones: Path | str | None = None,
    owners: Path | str | None = None,
) -> dict[Feed, Path]:
    """The files of ``directory`` (if given), with any file named explicitly taking precedence;
    a named file that cannot be opened is refused here, before any file is loaded."""
    files = find_feed_files(directory) if directory is not None else {}
    named = {Feed.POLLS: polls, Feed.HOURS: hours, Feed.TIMEZONES: timezones, Feed.OWNERS: owners}
    files.update({feed: _openable(Path(path)) for feed, path in named.items() if path is not None})
    return {feed: files[feed] for feed in Feed if feed in files}


def _openable(path: Path) -> Path:
    if path.is_dir():
        raise IngestionError(str(path), "is a directory, not a feed file")
    try:
        path.open("rb").close()
    except FileNotFoundError:
        raise IngestionError(str(path), "no such file") from None
    except OSError as error:
        raise IngestionError(str(path), f"cannot be opened ({error.strerror or error})") from None
    return path


def feed_of_file(path: Path) -> Feed | None:
    """The feed a file holds, told by its name (or a bq-results export's header) exactly as a
    directory given to ``load_csvs`` is read; ``None`` for a file that is no feed file. Raises
    ``IngestionError`` for a bq-results export whose header matches no feed."""
    lower_name = path.name.lower()
    suffix = next((suffix for suffix in CSV_SUFFIXES if lower_name.endswith(suffix)), None)
    if suffix is None or not path.is_file():
        return None
    stem = normalise_file_stem(path.name[: -len(suffix)])
    for feed, spec in SPECS.items():
        if stem in spec.file_stems:
            return feed
    if stem.startswith(EXPORT_FILE_PREFIX):
        header = read_header(path, settings.MAX_FEED_LINE_CHARS)
        exported = feed_of_header(header)
        delimiter = next((d for spec in SPECS.values() if (d := spec.other_delimiter(header)) is not None), None)
        if exported is None and delimiter is not None:
            raise IngestionError(path.name, wrong_delimiter(delimiter, "columns"), line=1)
        if exported is None:
            raise IngestionError(
                path.name,
                "is a bq-results export whose header matches no feed (expected the columns of "
                + "; ".join(spec.example_header for spec in SPECS.values())
                + ")",
                line=1,
            )
        return exported
    return None


def feed_of_dropped_file(path: Path) -> Feed | None:
    """The feed of a file put in the watched folder: told by its name as :func:`feed_of_file`
    does, else by its header. Files dropped there hourly carry a time or a number in their name
    (``store_status-2026-12-02T07.csv``), so the header, which every feed file has, decides."""
    feed = feed_of_file(path)
    if feed is not None or not path.is_file():
        return feed
    return feed_of_header(read_header(path, settings.MAX_FEED_LINE_CHARS))
