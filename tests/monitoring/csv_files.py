"""Small feed files for ingestion tests, written byte for byte as a test needs them."""

from __future__ import annotations

import gzip
from pathlib import Path

POLLS_HEADER = "store_id,status,timestamp_utc"
HOURS_HEADER = "store_id,day,start_time_local,end_time_local"
TIMEZONES_HEADER = "store_id,timezone_str"
OWNERS_HEADER = "store_id,owner"


def write_feed(
    path: Path,
    lines: list[str],
    *,
    bom: bool = False,
    line_end: str = "\n",
    final_newline: bool = True,
    compress: bool | None = None,
) -> Path:
    """Write ``lines`` (header included) to ``path``; gzip it when the name ends in ``.gz``
    (or when ``compress`` says so)."""
    text = line_end.join(lines) + (line_end if final_newline and lines else "")
    data = ("\ufeff" if bom else "").encode() + text.encode("utf-8")
    if compress if compress is not None else path.name.endswith(".gz"):
        data = gzip.compress(data)
    path.write_bytes(data)
    return path


def polls_file(directory: Path, rows: list[str], name: str = "store_status.csv", **options) -> Path:
    return write_feed(directory / name, [POLLS_HEADER, *rows], **options)


def hours_file(directory: Path, rows: list[str], name: str = "menu_hours.csv", **options) -> Path:
    return write_feed(directory / name, [HOURS_HEADER, *rows], **options)


def timezones_file(directory: Path, rows: list[str], name: str = "timezones.csv", **options) -> Path:
    return write_feed(directory / name, [TIMEZONES_HEADER, *rows], **options)


def owners_file(directory: Path, rows: list[str], name: str = "store_owners.csv", **options) -> Path:
    return write_feed(directory / name, [OWNERS_HEADER, *rows], **options)
