"""Synthetic feeds shaped like the real ones: status polls, business hours and time zones, and
(when asked for owners) a ``store_owners.csv`` saying which owner each store belongs to.

Plain Python and numpy, no Django. ``generate_feeds`` builds the CSV texts in memory and
``write_feeds`` writes them; the same arguments give the same bytes. Polls are written grouped by
store (stores in generation order) and in ascending time within a store; no store has two polls
at the same instant. Every set of at least ``len(FORCED_FEATURES)`` stores shows every feature.
"""

from __future__ import annotations

import datetime as dt
import gzip
import random
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

UTC = dt.UTC

# The newest poll of the full 2023 feed: the default "now", so output never depends on the clock.
DEFAULT_END = dt.datetime(2023, 1, 25, 18, 13, 22, 479220, tzinfo=UTC)
# US daylight saving time began on Sunday 12 March 2023 at 02:00 local time (07:00 UTC in
# New York, 10:00 UTC in Los Angeles): the 7 days before this end contain that change.
DST_STRADDLE_END = dt.datetime(2023, 3, 15, 18, 13, 22, 479220, tzinfo=UTC)

STATUS_FILE = "store_status.csv"
HOURS_FILE = "menu_hours.csv"
TIMEZONES_FILE = "timezones.csv"
OWNERS_FILE = "store_owners.csv"
STATUS_HEADER = "store_id,status,timestamp_utc"
HOURS_HEADER = "store_id,day,start_time_local,end_time_local"
TIMEZONES_HEADER = "store_id,timezone_str"
OWNERS_HEADER = "store_id,owner"

# Restaurant businesses for store_owners.csv, the first --owners of them (then "Restaurant Group
# 13", ...). One name has an accent: its slug (le-petit-cafe) is what the feed finds it by.
OWNER_NAMES = (
    "Bella Napoli",
    "Golden Wok",
    "Taco Loco",
    "Le Petit Café",
    "Burger Barn",
    "Green Bowl",
    "Sakura Sushi",
    "Harbor Diner Group",
    "Curry House",
    "Smokey's BBQ",
    "Pho Saigon",
    "Mama Mia Pizzeria",
)
# Of the stores: not in store_owners.csv at all, or listed with an empty owner (both: no owner).
UNLISTED_OWNER_SHARE = 0.05
EMPTY_OWNER_SHARE = 0.03
OWNER_BY_SLUG_SHARE = 0.2  # rows naming the owner by its slug rather than its name
# The owners are drawn from a random stream of their own, so asking for owners leaves the bytes
# of the other three feeds as they are without.
_OWNERS_STREAM = 4

# Roughly the real feeds' mix (mostly US coasts) plus zones they lack, so reports also meet a
# half-hour offset, the southern hemisphere and zones without daylight saving.
ZONE_WEIGHTS = {
    "America/New_York": 30,
    "America/Los_Angeles": 16,
    "America/Chicago": 10,
    "America/Denver": 5,
    "America/Phoenix": 4,
    "America/Detroit": 2,
    "America/Boise": 1,
    "Pacific/Honolulu": 2,
    "Asia/Beirut": 2,
    "Europe/London": 3,
    "Australia/Sydney": 3,
    "Asia/Kolkata": 2,
}

# Share of stores per shape of their business hours rows.
HOURS_SHAPES = {
    "always_open": 0.15,  # no rows at all: open 24/7
    "day_shifts": 0.33,  # one row a day, later on Friday and Saturday, shorter on Sunday
    "split_shifts": 0.15,  # 2 to 4 rows a day
    "overnight": 0.10,  # end before start, e.g. 18:00:00-02:00:00
    "twenty_four_hours": 0.05,  # start == end
    "whole_day": 0.12,  # 00:00:00-23:59:59 or 00:00:00-23:59:00
    "midnight_split": 0.10,  # 00:00:00-00:10:00 plus 11:00:00-23:59:00 on the same day
}
CLOSED_DAYS_SHARE = 0.2  # of stores with hours: 1 to 3 weekdays have no row (closed)
NO_ZONE_SHARE = 0.1
SPARSE_SHARE = 0.06  # polled only every 2 to 6 hours
GAP_SHARE = 0.05  # no polls for 20 to 36 hours in a row (periods of at least 3 days only)
FLAKY_SHARE = 0.1  # outages start 5 to 10 times as often
MISSED_POLL_SHARE = 0.02
# Each of these is given to one randomly chosen store, so small sets show them all.
FORCED_FEATURES = (*HOURS_SHAPES, "closed_days", "no_zone", "sparse", "gap", "flaky")

# How much likelier an outage starts in each UTC hour: busiest around US lunch and dinner.
_OUTAGE_HOUR_FACTOR = np.array(
    [2.5, 2.5, 2.0, 1.5, 1.0, 0.6, 0.4, 0.3, 0.3, 0.3, 0.3, 0.4]
    + [0.6, 0.8, 1.0, 1.5, 2.0, 2.2, 2.0, 1.6, 1.4, 1.6, 2.0, 2.3]
)
_OUTAGE_END_CHANCE = 0.3  # per poll: runs last 3.3 polls on average
_HOUR_US = 3_600_000_000


class SampleDataError(ValueError):
    """Arguments the generator cannot work with; the message says what to change."""


@dataclass(frozen=True)
class Feeds:
    """The feeds as CSV text (header, rows, final newline) and what they hold; ``store_owners``
    is ``None`` when no owners were asked for."""

    store_status: str
    menu_hours: str
    timezones: str
    stores: int
    polls: int
    inactive_polls: int
    hours_rows: int
    zone_rows: int
    zones: tuple[str, ...]
    first_poll: dt.datetime
    last_poll: dt.datetime
    store_owners: str | None = None
    owner_rows: int = 0
    owned_stores: int = 0
    owner_names: tuple[str, ...] = ()


def generate_feeds(
    stores: int,
    days: int,
    seed: int,
    *,
    end: dt.datetime | None = None,
    uuid_ids: bool = False,
    straddle_dst: bool = False,
    owners: int = 0,
) -> Feeds:
    """Polls about hourly for ``days`` days up to ``end`` (the newest poll is ``end`` itself),
    plus hours and zones, for ``stores`` stores; deterministic for a given seed. With ``owners``,
    also ``store_owners.csv``: most stores belong to one of that many owners, a few to none."""
    if stores < 1 or days < 1:
        raise SampleDataError(f"--stores and --days must be at least 1 (got {stores} and {days}).")
    if owners < 0:
        raise SampleDataError(f"--owners must be 0 (no store_owners.csv) or more (got {owners}).")
    if straddle_dst and end is not None:
        raise SampleDataError("--straddle-dst chooses the end itself; leave out --end.")
    end = DST_STRADDLE_END if straddle_dst else (end or DEFAULT_END)
    end = end.replace(tzinfo=UTC) if end.tzinfo is None else end
    rng = np.random.default_rng(seed)
    ids = _uuid_ids(rng, stores) if uuid_ids else _integer_ids(rng, stores)
    traits = _draw_traits(rng, stores, days * 24)
    py = random.Random(int(rng.integers(2**62)))
    hours_lines = [
        f"{ids[s]},{day},{start},{stop}"
        for s in range(stores)
        for day, start, stop in _hours_rows(py, traits["shape"][s], traits["closed_days"][s])
    ]
    zone_names = list(ZONE_WEIGHTS)
    zoned = np.flatnonzero(~traits["no_zone"])
    zone_lines = [f"{ids[s]},{zone_names[traits['zone'][s]]}" for s in zoned]
    store_index, micros, inactive = _polls(rng, traits, _to_micros(end), days * 24)
    prefixes = np.array([f"{i},active," for i in ids] + [f"{i},inactive," for i in ids], dtype=object)
    poll_lines = prefixes[store_index + stores * inactive] + format_timestamps(micros)
    owner_lines, owned, names = _owner_lines(np.random.default_rng((seed, _OWNERS_STREAM)), ids, owners)
    return Feeds(
        store_status=_csv(STATUS_HEADER, poll_lines.tolist()),
        menu_hours=_csv(HOURS_HEADER, hours_lines),
        timezones=_csv(TIMEZONES_HEADER, zone_lines),
        stores=stores,
        polls=len(micros),
        inactive_polls=int(inactive.sum()),
        hours_rows=len(hours_lines),
        zone_rows=len(zone_lines),
        zones=tuple(sorted({zone_names[traits["zone"][s]] for s in zoned})),
        first_poll=_from_micros(int(micros.min())),
        last_poll=_from_micros(int(micros.max())),
        store_owners=_csv(OWNERS_HEADER, owner_lines) if owners else None,
        owner_rows=len(owner_lines),
        owned_stores=owned,
        owner_names=names,
    )


def write_feeds(feeds: Feeds, out_dir: Path | str, *, compress: bool = False) -> list[Path]:
    """Write ``store_status.csv``, ``menu_hours.csv``, ``timezones.csv`` and, with owners,
    ``store_owners.csv`` (``.csv.gz`` when ``compress``; gzip without a time stamp, so bytes
    repeat) into ``out_dir``."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    contents = {
        STATUS_FILE: feeds.store_status,
        HOURS_FILE: feeds.menu_hours,
        TIMEZONES_FILE: feeds.timezones,
    }
    if feeds.store_owners is not None:
        contents[OWNERS_FILE] = feeds.store_owners
    paths = []
    for name, text in contents.items():
        path, other = out_dir / f"{name}.gz", out_dir / name
        if not compress:
            path, other = other, path
        if other.exists():
            # A loader finding both would not know which one to read.
            raise SampleDataError(f"{other} exists and would sit next to {path.name}; remove it or pick another --out.")
        data = text.encode()
        if compress:
            data = gzip.compress(data, compresslevel=6, mtime=0)
        path.write_bytes(data)
        paths.append(path)
    return paths


def parse_end(text: str) -> dt.datetime:
    """Read an end time like ``2023-01-25 18:13:22.47922 UTC`` or ISO 8601; naive means UTC."""
    value = text.strip()
    if value.endswith(" UTC"):
        value = value[: -len(" UTC")]
    elif value.endswith("Z"):
        value = value[:-1] + "+00:00"
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        raise SampleDataError(
            f"--end {text!r} is not a time like '2023-01-25 18:13:22.47922 UTC' or '2023-01-25T18:13:22Z'."
        ) from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def format_timestamps(micros: np.ndarray) -> np.ndarray:
    """The feed's text for microseconds since the epoch, e.g. ``2023-01-25 18:13:22.47922 UTC``:
    trailing zeros of the fraction dropped, no fraction at all on a whole second."""
    seconds, fraction = np.divmod(np.asarray(micros, dtype=np.int64), 1_000_000)
    hours, minute_second = np.divmod(seconds, 3600)
    first = int(hours.min()) if len(hours) else 0
    last = int(hours.max(initial=first))
    hour_text = np.array([f"{_from_micros(h * _HOUR_US):%Y-%m-%d %H}:" for h in range(first, last + 1)], dtype=object)
    high, low = np.divmod(fraction, 1000)
    fraction_text = _FRACTION_HIGH[high] + _FRACTION_LOW[low]
    whole = low == 0
    fraction_text[whole] = _FRACTION_HIGH_ONLY[high[whole]]
    return hour_text[hours - first] + _MINUTE_SECOND[minute_second] + fraction_text


# Lookup tables: string building by indexing beats formatting two million numbers one by one.
_MINUTE_SECOND = np.array([f"{m:02d}:{s:02d}" for m in range(60) for s in range(60)], dtype=object)
_FRACTION_HIGH = np.array([f".{i:03d}" for i in range(1000)], dtype=object)
_FRACTION_LOW = np.array([f"{i:03d}".rstrip("0") + " UTC" for i in range(1000)], dtype=object)
_FRACTION_HIGH_ONLY = np.array([""] + [f".{i:03d}".rstrip("0") for i in range(1, 1000)], dtype=object)
_FRACTION_HIGH_ONLY += " UTC"


def _draw_traits(rng: np.random.Generator, stores: int, slots: int) -> dict[str, np.ndarray]:
    shares = np.array(list(HOURS_SHAPES.values()))
    traits = {
        "shape": rng.choice(len(shares), size=stores, p=shares / shares.sum()),
        "closed_days": rng.random(stores) < CLOSED_DAYS_SHARE,
        "zone": rng.choice(len(ZONE_WEIGHTS), size=stores, p=_normalised(ZONE_WEIGHTS)),
        "no_zone": rng.random(stores) < NO_ZONE_SHARE,
        "sparse": rng.random(stores) < SPARSE_SHARE,
        "gap": (rng.random(stores) < GAP_SHARE) & (slots >= 72),
        "flaky": rng.random(stores) < FLAKY_SHARE,
        "forced_burst": np.zeros(stores, dtype=bool),
    }
    shape_names = list(HOURS_SHAPES)
    for store, feature in zip(rng.permutation(stores), FORCED_FEATURES, strict=False):
        if feature in HOURS_SHAPES:
            traits["shape"][store] = shape_names.index(feature)
        elif feature == "closed_days":
            traits["shape"][store] = shape_names.index("day_shifts")
            traits["closed_days"][store] = True
        elif feature == "flaky":
            traits["flaky"][store] = traits["forced_burst"][store] = True
        elif feature != "gap" or slots >= 72:
            traits[feature][store] = True
    return traits


def _polls(rng: np.random.Generator, traits: dict, end_us: int, slots: int):
    """Store index, time (µs since the epoch) and inactive flag of each poll, store by store.

    Poll ``j`` of a store falls in the hour ``[end - (slots - j) h, end - (slots - j - 1) h)``,
    so no two polls of a store coincide and each store's polls are in time order.
    """
    stores = len(traits["shape"])
    column = np.arange(slots)
    keep = rng.random((stores, slots)) >= MISSED_POLL_SHARE
    step = rng.integers(2, 7, stores)
    phase = rng.integers(0, 6, stores) % step
    on_step = (column - phase[:, None]) % step[:, None] == 0
    keep &= ~traits["sparse"][:, None] | on_step
    gap_start = rng.integers(0, max(1, slots - 36), stores)
    gap_stop = gap_start + rng.integers(20, 37, stores)
    in_gap = (column >= gap_start[:, None]) & (column < gap_stop[:, None])
    keep &= ~(traits["gap"][:, None] & in_gap)

    # Most polls come a few minutes past the hour (each store its own habit), some anywhere in it.
    habit = rng.integers(0, 900_000_000, stores)
    offset = habit[:, None] + rng.integers(0, 600_000_000, (stores, slots))
    anywhere = rng.random((stores, slots)) < 0.05
    offset[anywhere] = rng.integers(0, _HOUR_US, int(anywhere.sum()))

    inactive = _outages(rng, traits, end_us, slots)
    burst_start = max(0, slots - 30)
    burst = np.flatnonzero(traits["forced_burst"])
    inactive[burst, burst_start : burst_start + 4] = keep[burst, burst_start : burst_start + 4] = True

    keep[~keep.any(axis=1), slots - 1] = True
    keep[0, slots - 1], offset[0, slots - 1] = True, _HOUR_US  # the newest poll is `end` itself
    store_index, slot = np.nonzero(keep)
    micros = end_us - (slots - slot) * _HOUR_US + offset[store_index, slot]
    return store_index, micros, inactive[store_index, slot]


def _outages(rng: np.random.Generator, traits: dict, end_us: int, slots: int) -> np.ndarray:
    """Inactive flags per store and hour: outages start at a store's own rate, likelier in some
    hours, and last a geometric number of hours, so inactive polls come in runs."""
    stores = len(traits["flaky"])
    rate = np.where(traits["flaky"], rng.uniform(0.03, 0.08, stores), rng.uniform(0.002, 0.012, stores))
    first_hour = (end_us // _HOUR_US - slots) % 24
    remaining = np.zeros(stores, dtype=np.int64)
    inactive = np.zeros((stores, slots), dtype=bool)
    for j in range(slots):
        starts = (remaining == 0) & (rng.random(stores) < rate * _OUTAGE_HOUR_FACTOR[(first_hour + j) % 24])
        remaining = np.where(starts, rng.geometric(_OUTAGE_END_CHANCE, stores), remaining)
        inactive[:, j] = remaining > 0
        remaining = np.maximum(remaining - 1, 0)
    return inactive


def _hours_rows(py: random.Random, shape: int, closed_days: bool) -> list[tuple[int, str, str]]:
    rows = _SHAPE_BUILDERS[shape](py)
    if rows and closed_days:
        closed = set(py.sample(range(7), py.choice([1, 1, 2, 3])))
        rows = [row for row in rows if row[0] not in closed]
    # The real feeds list a store's days in no particular order.
    order = list(range(7))
    py.shuffle(order)
    return sorted(rows, key=lambda row: (order.index(row[0]), row[1]))


def _always_open(py: random.Random) -> list:
    return []


def _day_shifts(py: random.Random) -> list:
    opens = py.choice(["06:00:00", "07:00:00", "08:00:00", "09:00:00", "10:00:00", "10:30:00", "11:00:00"])
    closes = py.choice(["19:00:00", "20:00:00", "20:30:00", "21:00:00", "21:30:00", "22:00:00", "23:00:00"])
    late = py.choice([t for t in ["22:00:00", "23:00:00", "23:30:00", "23:59:00", "23:59:59"] if t > closes])
    sunday_opens = max(opens, py.choice(["09:00:00", "10:00:00", "11:00:00", "12:00:00"]))
    sunday = (sunday_opens, min(closes, "20:00:00"))
    return [(d, opens, closes) for d in range(4)] + [(4, opens, late), (5, opens, late), (6, *sunday)]


_SPLIT_WEEKS = [
    [("11:00:00", "14:30:00"), ("17:00:00", "22:00:00")],
    [("11:30:00", "15:00:00"), ("17:30:00", "23:00:00")],
    [("10:00:00", "14:00:00"), ("16:30:00", "21:30:00")],
    [("07:00:00", "10:30:00"), ("11:30:00", "14:30:00"), ("17:00:00", "22:00:00")],
    [("06:00:00", "09:30:00"), ("11:00:00", "14:00:00"), ("17:00:00", "21:00:00"), ("21:30:00", "23:59:00")],
]


def _split_shifts(py: random.Random) -> list:
    week = py.choice(_SPLIT_WEEKS)
    weekend = [("11:00:00", "23:00:00")] if py.random() < 0.5 else week
    return [(d, start, stop) for d in range(7) for start, stop in (week if d < 5 else weekend)]


def _overnight(py: random.Random) -> list:
    opens = py.choice(["16:00:00", "17:00:00", "18:00:00", "20:00:00", "22:00:00"])
    closes = py.choice(["01:00:00", "02:00:00", "03:00:00"])
    return [(d, opens, "04:00:00" if d in (4, 5) else closes) for d in range(7)]


def _twenty_four_hours(py: random.Random) -> list:
    start = py.choice(["00:00:00", "06:00:00", "10:00:00"])
    return [(d, start, start) for d in range(7)]


def _whole_day(py: random.Random) -> list:
    closes = py.choice(["23:59:59", "23:59:00"])
    return [(d, "00:00:00", closes) for d in range(7)]


def _midnight_split(py: random.Random) -> list:
    after_midnight = py.choice(["00:10:00", "01:00:00", "02:00:00"])
    opens, closes = py.choice(["10:00:00", "11:00:00"]), py.choice(["23:59:00", "23:59:59"])
    return [row for d in range(7) for row in ((d, "00:00:00", after_midnight), (d, opens, closes))]


# Indexed by shape number: the order of HOURS_SHAPES.
_SHAPE_BUILDERS = [
    _always_open,
    _day_shifts,
    _split_shifts,
    _overnight,
    _twenty_four_hours,
    _whole_day,
    _midnight_split,
]
assert [f.__name__[1:] for f in _SHAPE_BUILDERS] == list(HOURS_SHAPES)


def owner_name(number: int) -> str:
    """The name of owner ``number`` (0-based): a name of :data:`OWNER_NAMES`, then numbered groups."""
    return OWNER_NAMES[number] if number < len(OWNER_NAMES) else f"Restaurant Group {number + 1}"


def owner_slug(name: str) -> str:
    """What ``django.utils.text.slugify`` makes of one of these names (ASCII-folded, lower case,
    hyphens), written out here so that this module needs no Django."""
    folded = name.replace("é", "e").replace("'", "").lower()
    return "-".join("".join(c if c.isalnum() else " " for c in folded).split())


def _owner_lines(rng: np.random.Generator, ids: list[str], owners: int) -> tuple[list[str], int, tuple[str, ...]]:
    """store_owners.csv's rows in store order, how many stores got an owner, and the owners' names.

    Owners have stores in falling numbers (the first the most); each owner has at least one store
    while there are stores enough, so every owner asked for shows in the demo."""
    if not owners:
        return [], 0, ()
    names = tuple(owner_name(n) for n in range(owners))
    stores = len(ids)
    draw = rng.random(stores)
    unlisted = draw < UNLISTED_OWNER_SHARE
    empty = ~unlisted & (draw < UNLISTED_OWNER_SHARE + EMPTY_OWNER_SHARE)
    weights = 1.0 / np.arange(1, owners + 1)
    owner_of = rng.choice(owners, size=stores, p=weights / weights.sum())
    owned = np.flatnonzero(~unlisted & ~empty)
    # The first stores with an owner go one to each owner, so that no owner is left without.
    owner_of[owned[:owners]] = np.arange(min(owners, len(owned)))
    by_slug = rng.random(stores) < OWNER_BY_SLUG_SHARE
    lines = []
    for store in range(stores):
        if unlisted[store]:
            continue
        if empty[store]:
            lines.append(f"{ids[store]},")
            continue
        name = names[owner_of[store]]  # none holds a comma or a quote
        lines.append(f"{ids[store]},{owner_slug(name) if by_slug[store] else name}")
    return lines, len(owned), names


def _integer_ids(rng: np.random.Generator, stores: int) -> list[str]:
    """Distinct random 64-bit-integer-looking ids like the 2023 feeds (mostly 19 digits)."""
    ids: dict[str, None] = {}
    while len(ids) < stores:
        ids.update(dict.fromkeys(str(i) for i in rng.integers(1, 2**63, stores - len(ids), dtype=np.int64)))
    return list(ids)


def _uuid_ids(rng: np.random.Generator, stores: int) -> list[str]:
    """Random version-4 UUIDs like the 2024 feeds (collisions are practically impossible)."""
    raw = rng.bytes(16 * stores)
    return [str(uuid.UUID(bytes=raw[i : i + 16], version=4)) for i in range(0, len(raw), 16)]


def _normalised(weights: Mapping[str, float]) -> np.ndarray:
    values = np.array(list(weights.values()), dtype=float)
    return values / values.sum()


def _csv(header: str, lines: list[str]) -> str:
    return "\n".join([header, *lines]) + "\n"


def _to_micros(moment: dt.datetime) -> int:
    return (moment - dt.datetime(1970, 1, 1, tzinfo=UTC)) // dt.timedelta(microseconds=1)


def _from_micros(micros: int) -> dt.datetime:
    return dt.datetime(1970, 1, 1, tzinfo=UTC) + dt.timedelta(microseconds=micros)
