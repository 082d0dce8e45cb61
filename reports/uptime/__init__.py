"""The uptime calculator: polls, business hours and time zones in, figures and outages per store out.

Plain Python + numpy, no Django: it can be tested, benchmarked and reused on its own.
The rules it implements are written out in the README ("Uptime rules").
"""

from reports.uptime.engine import (
    CSV_COLUMNS,
    EXTENDED_CSV_COLUMNS,
    METHODS,
    ProgressCallback,
    UptimeFigures,
    compute_uptime,
)
from reports.uptime.extrapolation import DEFAULT_METHOD, METHOD_LABELS
from reports.uptime.inputs import (
    MICROSECONDS_PER_SECOND,
    FeedArrays,
    datetime_from_epoch_microseconds,
    epoch_microseconds,
    microseconds_of_day,
)
from reports.uptime.outages import OUTAGE_CSV_COLUMNS, OutageArrays, outage_rows

__all__ = [
    "CSV_COLUMNS",
    "DEFAULT_METHOD",
    "EXTENDED_CSV_COLUMNS",
    "METHODS",
    "METHOD_LABELS",
    "MICROSECONDS_PER_SECOND",
    "OUTAGE_CSV_COLUMNS",
    "FeedArrays",
    "OutageArrays",
    "ProgressCallback",
    "UptimeFigures",
    "compute_uptime",
    "datetime_from_epoch_microseconds",
    "epoch_microseconds",
    "microseconds_of_day",
    "outage_rows",
]
