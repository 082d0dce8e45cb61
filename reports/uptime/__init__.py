"""The uptime calculator: polls, business hours and time zones in, six figures per store out.

Plain Python + numpy, no Django: it can be tested, benchmarked and reused on its own.
The rules it implements are written out in the README ("Uptime rules").
"""

from reports.uptime.engine import METHODS, UptimeFigures, compute_uptime
from reports.uptime.inputs import MICROSECONDS_PER_SECOND, FeedArrays

__all__ = ["METHODS", "MICROSECONDS_PER_SECOND", "FeedArrays", "UptimeFigures", "compute_uptime"]
