"""Progress of a load: one bar per file, in bytes of the file read (compressed bytes for .gz)."""

from __future__ import annotations

from typing import Protocol, TextIO

from tqdm import tqdm


class ProgressBar(Protocol):
    def update_to(self, done: int) -> None: ...

    def close(self) -> None: ...


class ProgressFactory(Protocol):
    """Called once per file with a label and the file's size; returns that file's bar."""

    def __call__(self, label: str, total_bytes: int) -> ProgressBar: ...


class TerminalProgress:
    """tqdm bars on ``stream``; meant for a terminal, so callers pass it only when it is one."""

    def __init__(self, stream: TextIO):
        self.stream = stream

    def __call__(self, label: str, total_bytes: int) -> ProgressBar:
        return _TqdmBar(
            tqdm(
                total=total_bytes,
                desc=label,
                unit="B",
                unit_scale=True,
                unit_divisor=1024,
                file=self.stream,
                leave=False,
                dynamic_ncols=True,
            )
        )


class _TqdmBar:
    def __init__(self, bar: tqdm):
        self.bar = bar

    def update_to(self, done: int) -> None:
        self.bar.update(done - self.bar.n)
        if self.bar.total is not None and done >= self.bar.total:
            # Reading is done; the set-based SQL that follows can take seconds on big files.
            self.bar.set_postfix_str("writing to the database")

    def close(self) -> None:
        self.bar.close()
