"""Receiving a pushed feed body (POST /api/feeds/…): spooled to a temporary file, never whole in memory.

:func:`spooled_body` reads the request in chunks of :data:`CHUNK_BYTES` and writes the feed's
uncompressed CSV to a temporary file under ``VAR_DIR/uploads`` (a gzip body is decompressed on
the way, a JSON body converted to CSV rows by :mod:`monitoring.ingestion.json_feed`), computing
the sha256 of the uncompressed content as it goes, so the body is read once and the ledger's
digest costs no second pass. The caller hands the file to :func:`monitoring.imports.import_feeds`;
the file is deleted when the block ends.

Bounds: the body as sent at most ``MAX_FEED_UPLOAD_MB``, and its uncompressed content at most
:data:`UNCOMPRESSED_FACTOR` times that (a small gzip body can expand without end); reading stops
as soon as either is passed.
"""

from __future__ import annotations

import enum
import hashlib
import io
import os
import tempfile
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from django.conf import settings

from monitoring.imports import ContentDigest
from monitoring.ingestion import Feed
from monitoring.ingestion.json_feed import InvalidJsonFeed, JsonFeedConverter, JsonProblem
from monitoring.ingestion.reading import GZIP_MAGIC

CHUNK_BYTES = 1 << 20
# The uncompressed content may be this many times MAX_FEED_UPLOAD_MB: feeds compress about 5 to
# 8 times, so a real feed never comes near it, while a gzip bomb stops after a bounded read.
UNCOMPRESSED_FACTOR = 20
MEGABYTE = 1024 * 1024


class BodyFormat(enum.Enum):
    CSV = "csv"
    JSON = "json"


def upload_limit_bytes() -> int:
    """The most bytes a body may have as sent (MAX_FEED_UPLOAD_MB)."""
    return settings.MAX_FEED_UPLOAD_MB * MEGABYTE


def uncompressed_limit_bytes() -> int:
    return UNCOMPRESSED_FACTOR * upload_limit_bytes()


class BodyRefused(Exception):
    """A body that cannot be received; ``str()`` is a sentence for the caller."""


class BodyTooLarge(BodyRefused):
    """Over one of the two bounds (HTTP 413)."""


class BadBody(BodyRefused):
    """Empty, not gzip although it says so, or JSON that cannot be a feed (HTTP 400); ``problems``
    lists what the JSON converter found (empty for a problem with the body as a whole)."""

    def __init__(self, message: str, problems: list[JsonProblem] | None = None):
        self.problems = problems or []
        super().__init__(message)


@dataclass(frozen=True)
class SpooledBody:
    """The feed's CSV on disk (uncompressed) and the digest of the content as received."""

    path: Path
    digest: ContentDigest
    body_format: BodyFormat


def too_large_sentence() -> str:
    return (
        f"The request body is larger than the {settings.MAX_FEED_UPLOAD_MB:,} MB the server accepts "
        "(MAX_FEED_UPLOAD_MB); send the feed in several requests, or compress it (Content-Encoding: gzip)."
    )


def expands_too_much_sentence() -> str:
    return (
        f"The gzip body expands to more than {uncompressed_limit_bytes() // MEGABYTE:,} MB "
        f"({UNCOMPRESSED_FACTOR} times MAX_FEED_UPLOAD_MB), more than any feed the server accepts; "
        "send the feed in several requests."
    )


@contextmanager
def spooled_body(
    read: Callable[[int], bytes],
    *,
    feed: Feed,
    body_format: BodyFormat,
    gzip_declared: bool = False,
    max_problems: int = 20,
) -> Iterator[SpooledBody]:
    """Receive the body that ``read(n)`` returns (b"" at its end) into a temporary CSV file of
    ``feed``; the file is removed when the block ends. Raises :class:`BodyRefused`."""
    directory = Path(settings.VAR_DIR) / "uploads"
    directory.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(prefix=f"push-{feed.value}-", suffix=".csv", dir=directory)
    path = Path(name)
    try:
        with os.fdopen(handle, "wb") as out:
            digest = _receive(
                read, out, feed=feed, body_format=body_format, gzip_declared=gzip_declared, max_problems=max_problems
            )
        yield SpooledBody(path, digest, body_format)
    finally:
        path.unlink(missing_ok=True)


def _receive(
    read: Callable[[int], bytes],
    out: BinaryIO,
    *,
    feed: Feed,
    body_format: BodyFormat,
    gzip_declared: bool,
    max_problems: int,
) -> ContentDigest:
    """Copy the body to ``out`` as the feed's CSV; the digest of its uncompressed content."""
    sha256 = hashlib.sha256()
    if body_format is BodyFormat.CSV:
        sent = _copy(read, sha256, out.write, gzip_declared)
        return ContentDigest(sha256.hexdigest(), sent)
    text = io.TextIOWrapper(out, encoding="utf-8", newline="")
    try:
        converter = JsonFeedConverter(feed, text, max_problems=max_problems)
        sent = _copy(read, sha256, converter.send, gzip_declared)
        converter.close()
    except InvalidJsonFeed as error:
        count = len(error.problems)
        first = f", the first {count} listed" if count >= max_problems else ""
        raise BadBody(
            f"The JSON body cannot be loaded ({count} problem{'' if count == 1 else 's'}{first}); nothing was "
            "loaded: fix them and send it again.",
            error.problems,
        ) from None
    finally:
        text.flush()
        text.detach()  # ``out`` stays open: its owner closes it
    return ContentDigest(sha256.hexdigest(), sent)


def _copy(read: Callable[[int], bytes], sha256, write: Callable[[bytes], object], gzip_declared: bool) -> int:
    """Pass the body's content (uncompressed) to ``sha256`` and ``write``; the bytes sent."""

    def sink(data: bytes) -> None:
        sha256.update(data)
        write(data)

    decoder = _Decoder(sink, gzip_declared=gzip_declared)
    while chunk := read(CHUNK_BYTES):
        decoder.add(chunk)
    decoder.finish()
    return decoder.sent


class _Decoder:
    """Counts what is sent, decompresses a gzip body in bounded pieces, passes the content on."""

    def __init__(self, sink: Callable[[bytes], None], *, gzip_declared: bool):
        self.sink = sink
        self.gzip_declared = gzip_declared
        self.sent = 0
        self.content = 0
        self._head = b""  # the first bytes, until there are enough to see the gzip magic
        self._decided = False
        self._inflater: zlib._Decompress | None = None
        self._limit = upload_limit_bytes()
        self._content_limit = uncompressed_limit_bytes()

    def add(self, chunk: bytes) -> None:
        self.sent += len(chunk)
        if self.sent > self._limit:
            raise BodyTooLarge(too_large_sentence())
        if not self._decided:
            self._head += chunk
            if len(self._head) < len(GZIP_MAGIC):
                return
            chunk, self._head = self._head, b""
            self._decide(chunk)
        self._pass(chunk)

    def finish(self) -> None:
        if not self._decided:
            if not self._head:
                raise BadBody("The request body is empty; send the feed's CSV (with its header line) or a JSON list.")
            self._decide(self._head)
            self._pass(self._head)
        if self._inflater is not None and not self._inflater.eof:
            raise BadBody("The gzip body is cut off before its end; send the whole file.")

    def _decide(self, start: bytes) -> None:
        self._decided = True
        if start.startswith(GZIP_MAGIC):
            self._inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif self.gzip_declared:
            raise BadBody("The request says Content-Encoding: gzip, but the body is not gzip data.")

    def _pass(self, data: bytes) -> None:
        if self._inflater is None:
            self._content(data)
            return
        try:
            while True:
                if self._inflater.eof:
                    if not data:
                        return
                    # Another gzip member follows (as `cat a.gz b.gz` makes); gzip reads them all.
                    self._inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
                # max_length bounds what one call can expand to: a bomb never sits whole in memory.
                expanded = self._inflater.decompress(data, CHUNK_BYTES)
                self._content(expanded)
                if self._inflater.eof:
                    data = self._inflater.unused_data
                    continue
                data = self._inflater.unconsumed_tail
                if not data and len(expanded) < CHUNK_BYTES:
                    return
        except zlib.error as error:
            raise BadBody(f"The gzip body is damaged ({error}); send the file again.") from None

    def _content(self, data: bytes) -> None:
        self.content += len(data)
        if self.content > self._content_limit:
            raise BodyTooLarge(expands_too_much_sentence())
        if data:
            self.sink(data)
