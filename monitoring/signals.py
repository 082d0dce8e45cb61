"""Signals other apps listen to, so that monitoring never needs to know them."""

from django.dispatch import Signal

# Sent by monitoring.imports.import_feeds after a load committed (not when every file was
# skipped as already imported): ``outcome`` (ImportOutcome) and ``using`` (database alias).
feeds_imported = Signal()
