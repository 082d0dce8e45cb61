"""The processes of a job cluster, read from Linux's ``/proc``: who descends from whom, who is alive.

A process is known by its pid and its start time (clock ticks after boot, field 22 of
``/proc/<pid>/stat``), so a pid the kernel has since given to another process is never taken
for the one that was seen. Without ``/proc`` (not Linux) nothing is found and nothing is alive.
"""

import contextlib
import os
import signal
from dataclasses import dataclass
from pathlib import Path

PROC = Path("/proc")


@dataclass(frozen=True)
class ProcessId:
    pid: int
    started: int  # clock ticks after boot: tells this process from a later one with its pid


@dataclass(frozen=True)
class _Stat:
    state: str
    parent: int
    started: int


def _stat(pid: int) -> _Stat | None:
    try:
        text = (PROC / str(pid) / "stat").read_text()
    except OSError:  # gone, or no /proc
        return None
    # "pid (command) state ppid ..."; the command may itself contain spaces and parentheses.
    fields = text[text.rindex(")") + 2 :].split()
    return _Stat(state=fields[0], parent=int(fields[1]), started=int(fields[19]))


def identify(pid: int) -> ProcessId | None:
    stat = _stat(pid)
    return None if stat is None else ProcessId(pid, stat.started)


def descendants(pid: int) -> list[ProcessId]:
    """Every living process below ``pid`` (children, their children, ...), parents first."""
    children: dict[int, list[ProcessId]] = {}
    for entry in PROC.glob("[0-9]*") if PROC.is_dir() else ():
        stat = _stat(int(entry.name))
        if stat is not None and stat.state != "Z":
            children.setdefault(stat.parent, []).append(ProcessId(int(entry.name), stat.started))
    found: list[ProcessId] = []
    waiting = [pid]
    while waiting:
        for child in children.get(waiting.pop(0), []):
            found.append(child)
            waiting.append(child.pid)
    return found


def is_alive(process: ProcessId) -> bool:
    """Running (a zombie, dead but not yet reaped by its parent, counts as gone)."""
    stat = _stat(process.pid)
    return stat is not None and stat.started == process.started and stat.state != "Z"


def send(process: ProcessId, signum: signal.Signals) -> None:
    """Send ``signum`` to the process if it is still the one that was seen."""
    if is_alive(process):
        with contextlib.suppress(ProcessLookupError):  # it ended in between
            os.kill(process.pid, signum)
