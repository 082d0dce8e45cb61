"""The import ledger: every load from any path (command, push API, watched folder) is recorded.

:func:`import_feeds` is the one way data gets in: it wraps :func:`~monitoring.ingestion.load_feeds`
(one parser, one set of rules, one transaction for the files of a run) with an
:class:`~monitoring.models.Import` row per file. The rows are written before the load starts and
outside its transaction, so a load that fails or is interrupted stays on record. A file whose
content (sha256 of the uncompressed bytes) was already imported completely for the same feed is
not read again unless ``force`` is given: its row says ``Skipped`` and which import it repeats.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from django.contrib.auth.models import AnonymousUser, User
from django.db import DEFAULT_DB_ALIAS, DatabaseError
from django.utils import timezone

from monitoring.ingestion import Feed, IngestionError, InvalidRows, LoadSummary, ProgressFactory, load_feeds
from monitoring.ingestion.reading import open_feed_bytes
from monitoring.models import Import
from monitoring.signals import feeds_imported

log = logging.getLogger(__name__)

HASH_CHUNK_BYTES = 1 << 20


@dataclass(frozen=True)
class ContentDigest:
    """The sha256 (hex) of a feed's uncompressed content and the size of what was received."""

    sha256: str
    size_bytes: int


@dataclass
class ImportOutcome:
    """What :func:`import_feeds` did: the ledger rows in load order, and the load's summary
    (``None`` when every file was skipped as already imported)."""

    imports: list[Import]
    summary: LoadSummary | None

    @property
    def skipped(self) -> list[Import]:
        return [entry for entry in self.imports if entry.status == Import.Status.SKIPPED]

    def describe(self, force_hint: str = "--force loads it anyway") -> list[str]:
        """The load's report, with a line per skipped file (ending in ``force_hint``)."""
        lines = [f"{entry.feed} {entry.name}: skipped, {entry.summary}; {force_hint}" for entry in self.skipped]
        if self.summary is not None:
            lines += self.summary.describe()
        else:
            lines.append("Nothing loaded: the content of every file was already imported completely.")
        return lines


def content_digest(path: Path | str) -> ContentDigest:
    """The sha256 of the file's content, uncompressed if it is gzip (so the same rows sent
    compressed or not are one content), and the file's size on disk."""
    path = Path(path)
    digest = hashlib.sha256()
    binary, raw = open_feed_bytes(path)
    with binary, raw:
        try:
            while chunk := binary.read(HASH_CHUNK_BYTES):
                digest.update(chunk)
        except (OSError, EOFError) as error:
            # A truncated or corrupt gzip file: the load names the problem; hash what it is.
            log.debug("hashing %s stopped early: %s", path, error)
    return ContentDigest(digest.hexdigest(), path.stat().st_size)


def import_feeds(
    files: Mapping[Feed, Path | str],
    *,
    source: str,
    names: Mapping[Feed, str] | None = None,
    digests: Mapping[Feed, ContentDigest] | None = None,
    requested_by: User | AnonymousUser | None = None,
    force: bool = False,
    skip_invalid: bool = False,
    max_problems: int = 1,
    progress: ProgressFactory | None = None,
    using: str = DEFAULT_DB_ALIAS,
) -> ImportOutcome:
    """Load ``files`` (feed -> path) in one transaction, recording an ``Import`` row per file.

    ``source`` is an :class:`~monitoring.models.ImportSource`; ``names`` the names the ledger and
    the messages use (default: the file names); ``digests`` content digests the caller already
    computed (the push API hashes while it receives). Raises the load's
    :class:`~monitoring.ingestion.IngestionError` (or any other error) after marking the rows
    Failed; nothing of the files is then kept. The error carries those rows:
    :func:`ledger_entries_of` gives them to a caller that answers with them.
    """
    if not files:
        raise ValueError("import_feeds needs at least one file.")
    names = {feed: (names or {}).get(feed) or Path(path).name for feed, path in files.items()}
    digests = {feed: (digests or {}).get(feed) or content_digest(path) for feed, path in files.items()}
    user = requested_by if isinstance(requested_by, User) else None
    entries: list[Import] = []
    to_load: dict[Feed, Path] = {}
    for feed in Feed:  # the order load_feeds loads them in
        if feed not in files:
            continue
        digest = digests[feed]
        entry = Import(
            source=source,
            name=names[feed][:300],
            feed=feed.value,
            sha256=digest.sha256,
            size_bytes=digest.size_bytes,
            requested_by=user,
            started_at=timezone.now(),
        )
        earlier = None if force else Import.objects.using(using).completed_with(feed.value, digest.sha256)
        if earlier is not None:
            entry.status = Import.Status.SKIPPED
            entry.finished_at = entry.started_at
            entry.summary = (
                f"the same content was imported completely at {earlier.finished_at:%Y-%m-%d %H:%M:%S} UTC "
                f"(import #{earlier.pk}), so nothing was read"
            )
        else:
            to_load[feed] = Path(files[feed])
        entry.save(using=using)
        entries.append(entry)
    if not to_load:
        return ImportOutcome(entries, None)
    running = [entry for entry in entries if entry.status == Import.Status.RUNNING]
    try:
        summary = load_feeds(
            polls=to_load.get(Feed.POLLS),
            hours=to_load.get(Feed.HOURS),
            timezones=to_load.get(Feed.TIMEZONES),
            owners=to_load.get(Feed.OWNERS),
            skip_invalid=skip_invalid,
            max_problems=max_problems,
            progress=progress,
            using=using,
            names={feed: names[feed] for feed in to_load},
        )
    except BaseException as error:
        _record_failure(running, error, using)
        error.ledger_entries = running  # type: ignore[attr-defined]
        raise
    by_feed = {feed_summary.feed.value: feed_summary for feed_summary in summary.feeds}
    finished = timezone.now()
    for entry in running:
        feed_summary = by_feed[entry.feed]
        entry.status = Import.Status.COMPLETE
        entry.finished_at = finished
        entry.rows_read = feed_summary.read
        entry.rows_inserted = feed_summary.inserted
        entry.rows_duplicate = feed_summary.duplicates
        entry.rows_skipped = feed_summary.skipped
        entry.summary = feed_summary.describe()
        entry.save(using=using)
    outcome = ImportOutcome(entries, summary)
    feeds_imported.send(sender=ImportOutcome, outcome=outcome, using=using)
    return outcome


def ledger_entries_of(error: BaseException) -> list[Import]:
    """The ledger rows marked Failed by the :func:`import_feeds` call that raised ``error``."""
    return list(getattr(error, "ledger_entries", []))


def record_refusal(
    *,
    source: str,
    name: str,
    feed: str,
    error: str,
    digest: ContentDigest | None = None,
    requested_by: User | AnonymousUser | None = None,
    using: str = DEFAULT_DB_ALIAS,
) -> Import:
    """A Failed ledger row for content refused before any load began (a body that is not a JSON
    list, a file whose name tells no feed): every attempt to bring data in is on record."""
    now = timezone.now()
    return Import.objects.using(using).create(
        source=source,
        name=name[:300],
        feed=feed,
        sha256=digest.sha256 if digest is not None else "",
        size_bytes=digest.size_bytes if digest is not None else None,
        requested_by=requested_by if isinstance(requested_by, User) else None,
        started_at=now,
        finished_at=now,
        status=Import.Status.FAILED,
        error=error,
    )


def error_text(error: BaseException) -> str:
    """The ledger's sentence for a failed load: every problem of an ``InvalidRows``, one a line."""
    if isinstance(error, InvalidRows):
        return "\n".join(error.describe_all())
    if isinstance(error, IngestionError):
        return str(error)
    return f"the load stopped: {type(error).__name__}: {error}"


def _record_failure(entries: list[Import], error: BaseException, using: str) -> None:
    """Mark the run's rows Failed: the file the error names gets the error, the others say that
    they were not kept because of it (a load is all or nothing)."""
    failed_name = error.file_name if isinstance(error, IngestionError) else None
    culprit = next((entry for entry in entries if entry.name == failed_name), None)
    finished = timezone.now()
    for entry in entries:
        entry.status = Import.Status.FAILED
        entry.finished_at = finished
        if culprit is None or entry is culprit:
            entry.error = error_text(error)
        else:
            entry.error = (
                f"not kept: {culprit.feed} {culprit.name} of the same load failed, and a load is all or nothing"
            )
        try:
            entry.save(using=using)
        except DatabaseError:
            # The database that failed the load may refuse this too; the load's error matters more.
            log.exception("could not record the failed import %s", entry.pk)
