"""Signals other apps listen to about reports."""

from django.dispatch import Signal

# Sent by reports.actions after a run saved its report Complete: ``report`` (reports.Report).
report_completed = Signal()
