"""The watched folder: every ``*.csv`` / ``*.csv.gz`` put in ``INCOMING_DIR`` is loaded and moved.

A pass (:func:`run_pass`, run by the ``monitoring.tasks.load_incoming`` schedule and by
``manage.py load_incoming``) takes the files oldest first, each on its own: it claims the file,
loads it through :func:`monitoring.imports.import_feeds` (the ledger, one transaction per file,
identical content skipped) and moves it to ``processed/``, or to ``failed/`` with
``<name>.error.txt`` beside it saying what to fix. Writers write under another name (a dotfile,
``*.tmp``, ``*.part``) and rename into place: only names ending in ``.csv`` / ``.csv.gz`` are taken.

Claims, for several workers on several machines sharing the folder: a file is claimed by renaming
it into a directory of its own, ``claimed/<claim id>/<name>``, beside a ``claim.json`` (host, pid,
attempt, claimed_at, sha256) written first. A rename has one winner; the loser's source is gone
(``FileNotFoundError``). While it loads, the worker touches ``claim.json`` every quarter of
``INCOMING_LEASE_SECONDS`` from a thread; a claim untouched for longer than that is a dead worker's
(killed, out of memory, over the task timeout). A pass recovers such a claim by renaming its
directory (again one winner), marks the interrupted attempt's Running ledger row Failed, and loads
the file once more; a file interrupted twice goes to ``failed/``. Staleness compares the claim's
mtime with this machine's clock, so the lease must exceed the clock difference between machines.

A pass is bounded: at most :data:`PASS_MAX_FILES` files, and it claims no new file after
:func:`pass_seconds` (a quarter of the task timeout, at most two minutes), so a scheduled pass
ends well inside ``Q_CLUSTER['timeout']`` unless one file alone takes longer.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import secrets
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS
from django.utils import timezone

from monitoring.imports import content_digest, error_text, import_feeds, ledger_entries_of, record_refusal
from monitoring.ingestion import IngestionError
from monitoring.ingestion.discovery import CSV_SUFFIXES, feed_of_dropped_file
from monitoring.ingestion.feeds import SPECS
from monitoring.models import Import

log = logging.getLogger(__name__)

CLAIMED = "claimed"
PROCESSED = "processed"
FAILED = "failed"
CLAIM_FILE = "claim.json"
ERROR_SUFFIX = ".error.txt"
# A file is loaded at most this many times: the first attempt and one retry after its worker died.
MAX_ATTEMPTS = 2
PASS_MAX_FILES = 50
MAX_PROBLEMS_LISTED = 20
PASS_MAX_SECONDS = 120


def pass_seconds() -> float:
    """How long a pass keeps claiming new files: a quarter of the task timeout, at most 2 minutes."""
    return min(PASS_MAX_SECONDS, settings.REPORT_TIMEOUT_SECONDS / 4)


def is_incoming_name(name: str) -> bool:
    """A name a pass takes: ``*.csv`` or ``*.csv.gz`` (any case), not a dotfile."""
    return not name.startswith(".") and name.lower().endswith(CSV_SUFFIXES)


def worker_identity() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


@dataclass
class Claim:
    """A file claimed by one worker: ``claimed/<claim id>/<name>`` and its ``claim.json``."""

    directory: Path
    name: str
    attempt: int
    worker: str
    claimed_at: datetime
    sha256: str = ""
    # Ledger rows of earlier attempts whose worker died, marked Failed when the claim was recovered.
    interrupted: list[int] = field(default_factory=list)

    @property
    def path(self) -> Path:
        return self.directory / self.name

    @property
    def claim_file(self) -> Path:
        return self.directory / CLAIM_FILE

    def write(self) -> None:
        record = {
            "name": self.name,
            "attempt": self.attempt,
            "worker": self.worker,
            "claimed_at": self.claimed_at.isoformat(),
            "sha256": self.sha256,
            "interrupted": self.interrupted,
        }
        temporary = self.directory / f".{CLAIM_FILE}.tmp"
        temporary.write_text(json.dumps(record, indent=1))
        os.replace(temporary, self.claim_file)  # readers never see half a claim

    def renew(self) -> None:
        """Touch the lease; ``FileNotFoundError`` if another worker recovered the claim."""
        os.utime(self.claim_file)

    @classmethod
    def read(cls, directory: Path) -> Claim | None:
        """The claim recorded in ``directory``, or None when it holds no file (or no readable claim)."""
        try:
            record = json.loads((directory / CLAIM_FILE).read_text())
            claim = cls(
                directory=directory,
                name=record["name"],
                attempt=int(record["attempt"]),
                worker=record["worker"],
                claimed_at=datetime.fromisoformat(record["claimed_at"]),
                sha256=record.get("sha256", ""),
                interrupted=[int(pk) for pk in record.get("interrupted", [])],
            )
        except (OSError, ValueError, KeyError, TypeError):
            return None
        return claim if claim.path.is_file() else None


def lease_age(directory: Path) -> float:
    """Seconds since the claim in ``directory`` was last renewed (its claim.json, else the directory)."""
    for path in (directory / CLAIM_FILE, directory):
        with contextlib.suppress(FileNotFoundError):
            return time.time() - path.stat().st_mtime
    return 0.0


@dataclass
class FileResult:
    """What a pass did with one file."""

    name: str
    outcome: str  # "loaded", "skipped" or "failed"
    detail: str
    moved_to: Path | None = None
    attempt: int = 1
    import_ids: list[int] = field(default_factory=list)

    def describe(self) -> str:
        retry = f" (attempt {self.attempt})" if self.attempt > 1 else ""
        where = f" -> {self.moved_to.parent.name}/{self.moved_to.name}" if self.moved_to else ""
        return f"{self.name}{retry}: {self.outcome}, {self.detail}{where}"


@dataclass
class PassReport:
    """A pass over the folder: a result per file taken, or why the folder could not be read."""

    directory: Path | None
    results: list[FileResult] = field(default_factory=list)
    problem: str = ""
    # Files a bound of the pass left for the next one.
    left: int = 0

    def describe(self) -> list[str]:
        if self.problem:
            return [self.problem]
        lines = [result.describe() for result in self.results]
        if self.left:
            lines.append(f"{self.left} file(s) left for the next pass (a pass takes at most its bound)")
        return lines or [f"nothing to load in {self.directory}"]


def run_pass(
    directory: Path | str | None = None,
    *,
    max_files: int = PASS_MAX_FILES,
    max_seconds: float | None = None,
    using: str = DEFAULT_DB_ALIAS,
) -> PassReport:
    """One pass over ``directory`` (default ``INCOMING_DIR``): recover dead workers' claims, then
    load new files, oldest first, within the pass's bounds. Never raises for a folder that cannot
    be read: the report's ``problem`` says why (and it is logged)."""
    directory = Path(directory) if directory is not None else settings.INCOMING_DIR
    report = PassReport(directory)
    if directory is None:
        report.problem = "INCOMING_DIR is not set, so no folder is watched; set it to the folder feeds are put in."
    else:
        report.problem = _prepare_folder(directory)
    if directory is None or report.problem:
        log.warning("incoming: %s", report.problem)
        return report
    deadline = time.monotonic() + (pass_seconds() if max_seconds is None else max_seconds)

    def within_bounds() -> bool:
        return len(report.results) < max_files and time.monotonic() < deadline

    for stale in stale_claims(directory):
        if not within_bounds():
            break
        claim = recover_claim(directory, stale, using=using)
        if claim is not None:
            report.results.append(_finish_recovered(directory, claim, using=using))
    for path in incoming_files(directory):
        if not within_bounds():
            report.left += 1
            continue
        claim = claim_file(directory, path)
        if claim is not None:
            report.results.append(load_claimed(directory, claim, using=using))
    for result in report.results:
        log.log(logging.WARNING if result.outcome == "failed" else logging.INFO, "incoming: %s", result.describe())
    return report


def _prepare_folder(directory: Path) -> str:
    """Create claimed/, processed/ and failed/; the sentence saying why not, or ""."""
    if not directory.is_dir():
        state = "is not a directory" if directory.exists() else "does not exist"
        return f"The watched folder {directory} (INCOMING_DIR) {state}; create it or correct INCOMING_DIR."
    try:
        for sub in (CLAIMED, PROCESSED, FAILED):
            (directory / sub).mkdir(exist_ok=True)
    except OSError as error:
        return f"The watched folder {directory} (INCOMING_DIR) cannot be written ({error.strerror or error})."
    return ""


def incoming_files(directory: Path) -> list[Path]:
    """The files a pass would take, oldest first."""
    files = []
    with os.scandir(directory) as entries:
        for entry in entries:
            if is_incoming_name(entry.name) and entry.is_file(follow_symlinks=False):
                with contextlib.suppress(FileNotFoundError):  # another worker claimed it meanwhile
                    files.append((entry.stat().st_mtime, entry.name, Path(entry.path)))
    return [path for _, _, path in sorted(files)]


def claim_file(directory: Path, path: Path) -> Claim | None:
    """Claim ``path`` of the folder for this worker, or None if another worker took it first."""
    claim_dir = _new_claim_dir(directory)
    claim = Claim(claim_dir, path.name, attempt=1, worker=worker_identity(), claimed_at=timezone.now())
    claim.write()  # before the file arrives, so a claim with a file always says whose it is
    try:
        os.rename(path, claim.path)
    except FileNotFoundError:
        _remove_claim_dir(claim_dir)
        return None
    return claim


def stale_claims(directory: Path) -> list[Path]:
    """Claim directories whose lease ran out: their worker died (or left an empty claim)."""
    lease = settings.INCOMING_LEASE_SECONDS
    claimed = directory / CLAIMED
    return sorted(path for path in claimed.iterdir() if path.is_dir() and lease_age(path) > lease)


def recover_claim(directory: Path, stale: Path, *, using: str = DEFAULT_DB_ALIAS) -> Claim | None:
    """Take over a dead worker's claim (None if another worker did, or it held no file): rename
    its directory, mark the interrupted attempt's Running ledger rows Failed, and claim the file
    for the next attempt."""
    claim_dir = _new_claim_dir(directory, create=False)
    try:
        os.rename(stale, claim_dir)
    except FileNotFoundError:
        return None
    dead = Claim.read(claim_dir)
    if dead is None:
        # Left between claim.json and the rename (or after the file was moved out): nothing to load.
        _remove_claim_dir(claim_dir)
        return None
    claim = Claim(
        claim_dir,
        dead.name,
        attempt=dead.attempt + 1,
        worker=worker_identity(),
        claimed_at=timezone.now(),
        sha256=dead.sha256,
        interrupted=dead.interrupted,
    )
    try:
        # At once: until its lease is fresh, the renamed claim looks stale to other passes too.
        claim.write()
    except FileNotFoundError:
        return None  # another pass took it over in that instant; it carries on
    interrupted = Import.objects.using(using).filter(
        source=Import.Source.FOLDER, status=Import.Status.RUNNING, name=dead.name[:300], started_at__gte=dead.claimed_at
    )
    if dead.sha256:
        interrupted = interrupted.filter(sha256=dead.sha256)
    interrupted_ids = list(interrupted.values_list("pk", flat=True))
    Import.objects.using(using).filter(pk__in=interrupted_ids).update(
        status=Import.Status.FAILED,
        finished_at=timezone.now(),
        error=f"the worker loading it ({dead.worker}, attempt {dead.attempt}) stopped before the load ended; "
        "nothing of it was kept",
    )
    claim.interrupted = [*dead.interrupted, *interrupted_ids]
    claim.write()
    return claim


def _finish_recovered(directory: Path, claim: Claim, *, using: str) -> FileResult:
    if claim.attempt <= MAX_ATTEMPTS:
        return load_claimed(directory, claim, using=using)
    sentence = (
        f"{claim.name}: loading was interrupted twice: the worker loading it stopped each time before the load "
        "ended (killed, out of memory, or over the task timeout), so it is not tried again; nothing of it was "
        "kept. Check the workers' logs, then put it back in the folder to try once more."
    )
    return _fail(directory, claim, sentence, claim.interrupted, outcome_detail="interrupted twice")


def load_claimed(directory: Path, claim: Claim, *, using: str = DEFAULT_DB_ALIAS) -> FileResult:
    """Load a claimed file through the ledger and move it to processed/ or failed/."""
    try:
        with _renewed(claim):
            return _load(directory, claim, using=using)
    except BaseException as error:
        if not isinstance(error, Exception):
            # The worker was told to stop (WorkerShutdown, Ctrl-C): give the file back for the next pass.
            _give_back(directory, claim)
        raise


def _load(directory: Path, claim: Claim, *, using: str) -> FileResult:
    try:
        feed = feed_of_dropped_file(claim.path)
    except (IngestionError, OSError) as error:
        sentence = str(error) if isinstance(error, IngestionError) else error_text(error)
        entry = record_refusal(source=Import.Source.FOLDER, name=claim.name, feed="", error=sentence, using=using)
        return _fail(directory, claim, sentence, [entry.pk])
    if feed is None:
        headers = "; ".join(spec.example_header for spec in SPECS.values())
        sentence = (
            f"{claim.name} line 1: neither the file name nor the header tells which feed this is; "
            f"the header must hold the columns of one feed ({headers})"
        )
        entry = record_refusal(source=Import.Source.FOLDER, name=claim.name, feed="", error=sentence, using=using)
        return _fail(directory, claim, sentence, [entry.pk], outcome_detail="not a feed file")
    try:
        digest = content_digest(claim.path)
    except OSError as error:
        return _fail(directory, claim, f"{claim.name}: cannot be read ({error.strerror or error})", [])
    claim.sha256 = digest.sha256
    claim.write()  # so a pass recovering this claim finds the attempt's ledger row
    try:
        outcome = import_feeds(
            {feed: claim.path},
            source=Import.Source.FOLDER,
            names={feed: claim.name},
            digests={feed: digest},
            # The error file lists what to fix, as a push's 400 does, not only the first row.
            max_problems=MAX_PROBLEMS_LISTED,
            using=using,
        )
    except Exception as error:
        failed = next(iter(ledger_entries_of(error)), None)
        sentence = failed.error if failed is not None and failed.error else error_text(error)
        return _fail(directory, claim, sentence, [failed.pk] if failed is not None else [])
    (entry,) = outcome.imports
    moved_to = _move_out(directory, claim, PROCESSED)
    skipped = entry.status == Import.Status.SKIPPED
    return FileResult(
        claim.name,
        "skipped" if skipped else "loaded",
        f"import #{entry.pk}: {entry.summary}",
        moved_to,
        claim.attempt,
        [entry.pk],
    )


def _fail(
    directory: Path, claim: Claim, sentence: str, import_ids: list[int], *, outcome_detail: str = ""
) -> FileResult:
    """Move the file to failed/ with ``<name>.error.txt``: the sentence, when, and which import."""
    moved_to = _move_out(directory, claim, FAILED)
    recorded = ", ".join(f"#{pk}" for pk in import_ids) or "none (nothing was read)"
    moved_to.with_name(moved_to.name + ERROR_SUFFIX).write_text(
        f"{sentence}\n\n"
        f"failed at {timezone.now():%Y-%m-%d %H:%M:%S} UTC, attempt {claim.attempt}, by worker {claim.worker}\n"
        f"import {recorded} (the ledger: admin, Imports)\n"
        f"Nothing of this file was kept. Fix it and put it back in {directory} to load it again.\n"
    )
    first_line = sentence.splitlines()[0] if sentence else ""
    return FileResult(claim.name, "failed", outcome_detail or first_line, moved_to, claim.attempt, import_ids)


def _move_out(directory: Path, claim: Claim, to: str) -> Path:
    """Move the claimed file into ``directory/to`` under its name, or with ``.1``, ``.2``... before
    its suffix when that name is taken (never overwriting), then drop the claim."""
    target_dir = directory / to
    target_dir.mkdir(exist_ok=True)
    lower = claim.name.lower()
    suffix_length = next((len(s) for s in CSV_SUFFIXES if lower.endswith(s)), 0)
    stem, suffix = claim.name[: len(claim.name) - suffix_length], claim.name[len(claim.name) - suffix_length :]
    number = 0
    while True:
        target = target_dir / (claim.name if number == 0 else f"{stem}.{number}{suffix}")
        # A name whose error note is left (the file was taken away) stays taken: notes pair with files.
        if not target.with_name(target.name + ERROR_SUFFIX).exists() and _move_unless_taken(claim.path, target):
            break
        number += 1
    _remove_claim_dir(claim.directory)
    return target


def _move_unless_taken(source: Path, target: Path) -> bool:
    """Move ``source`` to ``target`` unless ``target`` exists (False then). A hard link refuses an
    existing target atomically; on a file system without hard links, check and rename."""
    try:
        os.link(source, target)
    except FileExistsError:
        return False
    except OSError:
        if target.exists():
            return False
        os.rename(source, target)
        return True
    source.unlink()
    return True


def _give_back(directory: Path, claim: Claim) -> None:
    """Put an unfinished claim's file back in the folder (if its name is free) for the next pass."""
    target = directory / claim.name
    with contextlib.suppress(OSError):
        if not target.exists():
            os.rename(claim.path, target)
            _remove_claim_dir(claim.directory)


def _new_claim_dir(directory: Path, *, create: bool = True) -> Path:
    claim_dir = directory / CLAIMED / f"{time.strftime('%Y%m%dT%H%M%S')}-{secrets.token_hex(4)}"
    if create:
        claim_dir.mkdir(parents=True)
    return claim_dir


def _remove_claim_dir(claim_dir: Path) -> None:
    for leftover in (claim_dir / CLAIM_FILE, claim_dir / f".{CLAIM_FILE}.tmp"):
        with contextlib.suppress(FileNotFoundError):
            leftover.unlink()
    with contextlib.suppress(OSError):
        claim_dir.rmdir()


@contextlib.contextmanager
def _renewed(claim: Claim) -> Iterator[None]:
    """Keep the claim's lease fresh from a thread while the body runs (the load holds the GIL
    only between rows, so the thread gets its turn)."""
    every = settings.INCOMING_LEASE_SECONDS / 4
    stop = threading.Event()

    def renew() -> None:
        while not stop.wait(every):
            try:
                claim.renew()
            except FileNotFoundError:
                log.error("incoming: the claim of %s was taken over by another worker", claim.name)
                return
            except OSError:
                log.exception("incoming: could not renew the claim of %s", claim.name)

    thread = threading.Thread(target=renew, name=f"lease {claim.name}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
