"""The calculator's input: the three feeds as flat numpy arrays indexed by store position."""

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np

MICROSECONDS_PER_SECOND = 1_000_000
MICROSECONDS_PER_DAY = 86_400 * MICROSECONDS_PER_SECOND


@dataclass(frozen=True)
class FeedArrays:
    """Stores, polls and business hours of one consistent snapshot.

    Store ``i`` is ``store_ids[i]`` in zone ``store_zones[i]`` (already defaulted by the caller).
    Times are integer microseconds: polls since the Unix epoch (UTC), hours since local midnight.
    A store with no hours rows is open all the time.
    """

    store_ids: list[str]
    store_zones: list[str]
    poll_store: np.ndarray  # int, index into store_ids
    poll_time_us: np.ndarray  # int64, UTC microseconds since the epoch
    poll_active: np.ndarray  # bool
    hours_store: np.ndarray  # int, index into store_ids
    hours_day: np.ndarray  # int, 0 = Monday .. 6 = Sunday (local)
    hours_start_us: np.ndarray  # int64, local microseconds since midnight, in [0, 1 day)
    hours_end_us: np.ndarray  # int64, local microseconds since midnight, in [0, 1 day)

    def __post_init__(self) -> None:
        n_stores = len(self.store_ids)
        if len(self.store_zones) != n_stores:
            raise ValueError("store_zones must have one zone per store")
        n_polls = len(self.poll_store)
        if not (len(self.poll_time_us) == len(self.poll_active) == n_polls):
            raise ValueError("poll arrays must have the same length")
        n_hours = len(self.hours_store)
        if not (len(self.hours_day) == len(self.hours_start_us) == len(self.hours_end_us) == n_hours):
            raise ValueError("hours arrays must have the same length")
        if n_hours and (self.hours_day.min() < 0 or self.hours_day.max() > 6):
            raise ValueError("hours_day must be in 0..6")
        for name in ("hours_start_us", "hours_end_us"):
            values = getattr(self, name)
            if n_hours and (values.min() < 0 or values.max() >= MICROSECONDS_PER_DAY):
                raise ValueError(f"{name} must be within one day")
        for name in ("poll_store", "hours_store"):
            values = getattr(self, name)
            if len(values) and (values.min() < 0 or values.max() >= n_stores):
                raise ValueError(f"{name} must index store_ids")

    @classmethod
    def from_rows(
        cls,
        polls: Iterable[tuple[str, dt.datetime, bool]],
        hours: Iterable[tuple[str, int, dt.time, dt.time]] = (),
        zones: Mapping[str, str] | None = None,
        *,
        default_zone: str,
    ) -> "FeedArrays":
        """Build from plain rows; convenient in tests and small tools.

        ``polls``: (store_id, aware datetime, active bool); ``hours``: (store_id, day, start time,
        end time); ``zones``: {store_id: zone}; stores missing from it get ``default_zone``.
        """
        zones = zones or {}
        polls = list(polls)
        hours = list(hours)
        store_ids = sorted({p[0] for p in polls} | {h[0] for h in hours} | set(zones))
        position = {store_id: i for i, store_id in enumerate(store_ids)}

        return cls(
            store_ids=store_ids,
            store_zones=[zones.get(s, default_zone) for s in store_ids],
            poll_store=np.array([position[p[0]] for p in polls], dtype=np.int64),
            poll_time_us=np.array([epoch_microseconds(p[1]) for p in polls], dtype=np.int64),
            poll_active=np.array([bool(p[2]) for p in polls], dtype=bool),
            hours_store=np.array([position[h[0]] for h in hours], dtype=np.int64),
            hours_day=np.array([h[1] for h in hours], dtype=np.int64),
            hours_start_us=np.array([microseconds_of_day(h[2]) for h in hours], dtype=np.int64),
            hours_end_us=np.array([microseconds_of_day(h[3]) for h in hours], dtype=np.int64),
        )


_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def microseconds_of_day(moment: dt.time) -> int:
    """Exact integer microseconds from local midnight to a wall-clock time."""
    return ((moment.hour * 60 + moment.minute) * 60 + moment.second) * MICROSECONDS_PER_SECOND + moment.microsecond


def epoch_microseconds(moment: dt.datetime) -> int:
    """Exact integer microseconds since the Unix epoch of an aware datetime."""
    delta = moment - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * MICROSECONDS_PER_SECOND + delta.microseconds


def datetime_from_epoch_microseconds(micros: int) -> dt.datetime:
    return _EPOCH + dt.timedelta(microseconds=int(micros))
