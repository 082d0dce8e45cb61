"""Scheduled reports. (Interface placeholder, implemented by the scheduled-reports work.)

- ``next_slot(schedule, after)``: the first slot of the schedule strictly after ``after`` (UTC).
- ``run_due_schedules(now=None) -> str``: claim and run every due schedule once; a sentence.
- ``report_completed(report)``: report.ready deliveries for a scheduled run's report.
"""

from __future__ import annotations

import datetime as dt


def next_slot(schedule, after: dt.datetime) -> dt.datetime:
    raise NotImplementedError


def run_due_schedules(now: dt.datetime | None = None) -> str:
    raise NotImplementedError


def report_completed(report) -> None:
    raise NotImplementedError
