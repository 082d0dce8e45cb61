"""Incidents are the outages of the newest report time, kept in the database.

After every import, :func:`reconcile_incidents` computes every store's outages (README rule 10,
method ``last_known``) with the report's own engine and snapshot (``reports.generation``) and
makes the ``Incident`` rows equal to them: one incident per outage, open while the outage is
*ongoing* at the report time. There is no second set of rules here, so late or out-of-order
polls, corrected hours and re-sent files converge to the incidents a report would show, and
reconciling twice changes nothing.

What "equal" means, exactly:
- Outages are those of a report a microsecond after the newest poll (``as_of``, see
  ``incident_time``), cut to its lookback. An incident that began before the lookback keeps its
  real start; only its cut start is compared. One opened by a poll older than the lookback keeps
  that poll.
- Incidents are matched to outages of the same store that overlap them in time, in order, so an
  outage that grew (a late inactive poll) or shrank (a late active one) keeps its incident.
- An incident no outage overlaps any more is deleted, or *retracted* when a channel was told of
  it (so that channel can be told it is over).
- Incidents that ended before ``as_of - lookback + SETTLED_MARGIN`` are *settled*: never changed
  again. There the lookback's start cuts the report's evidence (rules 6-7), so its view of the
  oldest day is the least informed; and an owner is not told of corrections two weeks late.
  For the same reason an outage there that no inactive poll at or before it shows (rule 7's
  fallback to the earliest poll after it, once the lookback's start cut the polls before) is
  not made an incident. Incidents that ended before the lookback are history and are never looked at.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from alerts.incident_writes import IncidentRow, insert_incidents, update_incidents
from alerts.models import Delivery, Incident, IncidentQuerySet
from monitoring.ingestion.errors import plural
from monitoring.models import StatusPoll
from reports import generation, pg_binary
from reports.snapshot import read_copy
from reports.uptime import DEFAULT_METHOD, MICROSECONDS_PER_SECOND, FeedArrays, datetime_from_epoch_microseconds
from reports.uptime.inputs import MICROSECONDS_PER_DAY

log = logging.getLogger(__name__)

# How far inside the lookback's start incidents stop changing (see the module's docstring).
SETTLED_MARGIN_US = MICROSECONDS_PER_DAY
# The method incidents follow: the report's default (rule 7).
INCIDENT_METHOD = DEFAULT_METHOD
BULK_BATCH = 1000
INCIDENT_TIME_AFTER_NEWEST_POLL = dt.timedelta(microseconds=1)


@dataclass(frozen=True)
class LiveOutages:
    """Every reported store's outages at one report time, with the store's primary key and the
    time of the inactive poll that opened each (``-1`` when none is in the snapshot)."""

    as_of_us: int
    lookback_start_us: int
    reported_store_pks: np.ndarray  # sorted
    store_pk: np.ndarray
    start: np.ndarray
    end: np.ndarray
    ongoing: np.ndarray
    session_start: np.ndarray
    session_end: np.ndarray
    opened_by_poll: np.ndarray

    def __len__(self) -> int:
        return len(self.store_pk)

    @property
    def as_of(self) -> dt.datetime:
        return datetime_from_epoch_microseconds(self.as_of_us)


@dataclass
class ReconcileResult:
    """What one reconciliation changed; ``opened`` and ``ended`` list incident pks."""

    as_of: dt.datetime | None
    outages: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0
    retracted: int = 0
    seconds: float = 0.0
    opened: list[int] = field(default_factory=list)
    ended: list[int] = field(default_factory=list)

    def describe(self) -> str:
        if self.as_of is None:
            return "No polls yet: no incidents to reconcile."
        return (
            f"Incidents as of {self.as_of:%Y-%m-%d %H:%M:%S} UTC ({plural(self.outages, 'outage')} in the lookback): "
            f"{self.created} created, {self.updated} updated, {self.unchanged} unchanged, {self.deleted} deleted, "
            f"{self.retracted} retracted; {len(self.opened)} opened, {len(self.ended)} ended; {self.seconds:.2f} s."
        )


def incident_time() -> dt.datetime | None:
    """The report time incidents are reconciled at: a microsecond after the newest poll.

    A report at the newest poll itself cuts every outage there, so a store whose newest poll
    says inactive would have an outage of length zero, which is none (rule 10): the store
    would be reported offline only once some later poll arrived. A microsecond later that
    poll's status counts, and the outage it starts is ongoing.
    """
    newest = StatusPoll.objects.newest_time()
    return None if newest is None else newest + INCIDENT_TIME_AFTER_NEWEST_POLL


def live_outages(as_of: dt.datetime | None = None) -> LiveOutages | None:
    """The outages a report at ``as_of`` (default: ``incident_time()``) would list, for every
    store; None when the database holds no polls."""
    as_of = as_of or incident_time()
    if as_of is None:
        return None
    try:
        data = generation.compute_report(as_of=as_of, method=INCIDENT_METHOD)
    except generation.NoPollsError:
        return None
    figures, feeds = data.figures, data.feeds
    outages = figures.outages
    position_pk = data.store_pks  # from the snapshot's own read of the stores
    reported = np.sort(position_pk[figures.store_index])
    return LiveOutages(
        as_of_us=outages.as_of_us,
        lookback_start_us=outages.lookback_start_us,
        reported_store_pks=reported,
        store_pk=position_pk[outages.store],
        start=outages.start,
        end=outages.end,
        ongoing=outages.ongoing,
        session_start=outages.session_start,
        session_end=outages.session_end,
        opened_by_poll=_opening_polls(outages.store, outages.start, outages.end, feeds),
    )


def _opening_polls(store: np.ndarray, start: np.ndarray, end: np.ndarray, feeds: FeedArrays) -> np.ndarray:
    """Per outage, the time of the first inactive poll inside it, else of the latest inactive poll
    before it (its status was carried into the session), else -1."""
    result = np.full(len(store), -1, dtype=np.int64)
    inactive = ~np.asarray(feeds.poll_active, dtype=bool)
    if not inactive.any() or len(store) == 0:
        return result
    # One sorted key per inactive poll, (store, time), searched for every outage at once.
    poll_store = np.asarray(feeds.poll_store, dtype=np.int64)[inactive]
    poll_time = np.asarray(feeds.poll_time_us, dtype=np.int64)[inactive]
    order = np.lexsort((poll_time, poll_store))
    poll_store, poll_time = poll_store[order], poll_time[order]
    first_of_store = np.searchsorted(poll_store, store, side="left")
    past_store = np.searchsorted(poll_store, store, side="right")
    # Within a store's run the times are sorted: search (store, start) lexicographically.
    at = first_of_store + _searchsorted_runs(poll_time, first_of_store, past_store, start)
    inside = (at < past_store) & (poll_time[np.minimum(at, len(poll_time) - 1)] <= end)
    result[inside] = poll_time[at[inside]]
    before = ~inside & (at > first_of_store)
    result[before] = poll_time[at[before] - 1]
    return result


def _searchsorted_runs(times: np.ndarray, first: np.ndarray, past: np.ndarray, value: np.ndarray) -> np.ndarray:
    """For each k, how many of ``times[first[k]:past[k]]`` (sorted) are below ``value[k]``."""
    low, high = np.zeros(len(first), dtype=np.int64), past - first
    while True:
        active = low < high
        if not active.any():
            return low
        middle = (low + high) // 2
        below = np.zeros(len(first), dtype=bool)
        below[active] = times[(first + middle)[active]] < value[active]
        low = np.where(active & below, middle + 1, low)
        high = np.where(active & ~below, middle, high)


@dataclass
class _Existing:
    pk: int
    store_pk: int
    start_us: int
    end_us: int | None
    ended_by: str
    session_start_us: int
    session_end_us: int
    notified: bool
    opened_by_us: int | None


@dataclass
class _Outage:
    index: int
    store_pk: int
    start_us: int
    end_us: int | None  # None: ongoing at as_of


def reconcile_incidents(as_of: dt.datetime | None = None) -> ReconcileResult:
    """Make the incidents equal to the outages of a report at ``as_of`` (default:
    ``incident_time()``, just after the newest poll); returns what changed. Callers serialise
    runs (``alerts.runs``): two at once could both create the same incident, which the unique
    constraint then refuses."""
    started = time.monotonic()
    live = live_outages(as_of)
    if live is None:
        return ReconcileResult(as_of=None)
    result = ReconcileResult(as_of=live.as_of, outages=len(live))
    settled_before = live.lookback_start_us + SETTLED_MARGIN_US
    with transaction.atomic():
        existing = _existing_incidents(live)
        # Most incidents are exactly their outage already: set them aside by their keys, so that
        # only what may have changed is matched one by one (an exact pair is always matched
        # together: neither side's intervals overlap each other).
        outage_keys = _outage_keys(live)
        exact = set(outage_keys).intersection(_incident_key(incident, live) for incident in existing)
        result.unchanged += len(exact)
        existing = [incident for incident in existing if _incident_key(incident, live) not in exact]
        outages = [_Outage(k, key[0], key[1], key[2]) for k, key in enumerate(outage_keys) if key not in exact]
        by_store_outages: dict[int, list[_Outage]] = defaultdict(list)
        for outage in outages:
            by_store_outages[outage.store_pk].append(outage)
        by_store_incidents: dict[int, list[_Existing]] = defaultdict(list)
        for incident in existing:
            by_store_incidents[incident.store_pk].append(incident)

        to_create: list[IncidentRow] = []
        to_update: list[tuple[_Existing, _Outage]] = []
        to_remove: list[_Existing] = []
        for store_pk in by_store_outages.keys() | by_store_incidents.keys():
            matches, lone_outages, lone_incidents = _match(
                by_store_outages.get(store_pk, []), by_store_incidents.get(store_pk, []), live.lookback_start_us
            )
            for incident, outage in matches:
                if _settled(incident, settled_before) or _same(incident, outage, live):
                    result.unchanged += 1
                else:
                    to_update.append((incident, outage))
            for outage in lone_outages:
                if not _unbacked_in_settled_region(outage, live, settled_before):
                    to_create.append(_new_incident(outage, live))
            for incident in lone_incidents:
                if _settled(incident, settled_before):
                    result.unchanged += 1
                else:
                    to_remove.append(incident)

        # Removals first, creations last: no step takes a start another current incident still holds.
        _remove(to_remove, live, result)
        _apply_updates(to_update, live, result)
        created = insert_incidents(to_create, timezone.now())
        result.created = len(created)
        result.opened += [pk for pk, is_open in created if is_open]
        result.ended += [pk for pk, is_open in created if not is_open]
    result.seconds = time.monotonic() - started
    log.info("%s", result.describe())
    return result


OutageKey = tuple[int, int, int | None, str, int | None]


def _outage_keys(live: LiveOutages) -> list[OutageKey]:
    """(store pk, start, end or None while ongoing, how it ended, opening poll or None) of each
    outage, in order: what an incident equal to it holds."""
    ended_by = np.where(
        live.ongoing,
        "",
        np.where(live.end >= live.session_end, Incident.EndedBy.SESSION_CLOSED, Incident.EndedBy.ACTIVE_POLL),
    )
    ends = [None if going else end for end, going in zip(live.end.tolist(), live.ongoing.tolist(), strict=True)]
    opened = [None if poll < 0 else poll for poll in live.opened_by_poll.tolist()]
    return list(zip(live.store_pk.tolist(), live.start.tolist(), ends, ended_by.tolist(), opened, strict=True))


def _incident_key(incident: _Existing, live: LiveOutages) -> OutageKey:
    return (
        incident.store_pk,
        max(incident.start_us, live.lookback_start_us),
        incident.end_us,
        incident.ended_by,
        incident.opened_by_us,
    )


def _existing_incidents(live: LiveOutages) -> list[_Existing]:
    """The current incidents that end inside the lookback or are open, of the reported stores,
    begun before as_of (a report at an earlier time than the newest knows nothing of later ones)."""
    lookback_start = datetime_from_epoch_microseconds(live.lookback_start_us)
    incidents = (
        Incident.objects.current()
        .filter(Q(ended_at__isnull=True) | Q(ended_at__gt=lookback_start), started_at__lt=live.as_of)
        .order_by("store_id", "started_at")
    )
    notified = set(
        # The deliveries of these incidents only (not the whole history's).
        Delivery.objects.filter(incident__isnull=False)
        .filter(Q(incident__ended_at__isnull=True) | Q(incident__ended_at__gt=lookback_start))
        .exclude(event=Delivery.Event.TEST)
        .values_list("incident_id", flat=True)
        .distinct()
    )
    reported = set(live.reported_store_pks.tolist())
    return [
        _Existing(pk, store_pk, start, end, ended_by, session_start, session_end, pk in notified, opened_by)
        for pk, store_pk, start, end, ended_by, session_start, session_end, opened_by in _incident_rows(incidents)
        # A store no longer in the report (no poll in the lookback) is left as it is.
        if store_pk in reported
    ]


def _incident_rows(incidents: IncidentQuerySet) -> list[tuple]:
    """(pk, store pk, start µs, end µs or None, ended_by, session start µs, session end µs, opening poll µs
    or None) rows.

    PostgreSQL hands the times over as integer microseconds: parsing tens of thousands of
    timestamps into datetimes costs more than the rest of a reconciliation's own work.
    """
    if connection.vendor == "postgresql":
        return _incident_rows_postgresql(incidents)
    return [
        (pk, store_pk, _us(start), _us_or_none(end), ended_by, _us(opening), _us(closing), _us_or_none(poll))
        for pk, store_pk, start, end, ended_by, opening, closing, poll in incidents.values_list(
            "pk", "store_id", "started_at", "ended_at", "ended_by", "session_start", "session_end", "opened_by_poll_at"
        )
    ]


_ENDED_BY_CODES = ("", Incident.EndedBy.ACTIVE_POLL, Incident.EndedBy.SESSION_CLOSED)
_NO_TIME = (np.iinfo(np.int64).max, np.iinfo(np.int64).min)  # 'infinity', '-infinity' in binary COPY


def _incident_rows_postgresql(incidents: IncidentQuerySet) -> list[tuple]:
    # A binary COPY of fixed-width rows, as the polls travel (reports.snapshot): a missing end or
    # opening poll becomes infinity and how it ended a small number, so no row holds a NULL.
    columns = ("pk", "store_id", "started_at", "ended_at", "ended_by", "session_start", "session_end")
    select_sql, params = incidents.values_list(*columns, "opened_by_poll_at").query.sql_with_params()
    codes = " ".join(f"WHEN '{name}' THEN {code}" for code, name in enumerate(_ENDED_BY_CODES))
    sql = (
        "COPY (SELECT p.id, p.store_id, p.started_at, COALESCE(p.ended_at, 'infinity'), "
        f"(CASE p.ended_by {codes} END)::int2, p.session_start, p.session_end, "
        "COALESCE(p.opened_by_poll_at, '-infinity') "
        f"FROM ({select_sql}) AS p(id, store_id, started_at, ended_at, ended_by, session_start, session_end, "
        "opened_by_poll_at)) TO STDOUT (FORMAT BINARY)"
    )
    time, code = pg_binary.TIMESTAMPTZ, pg_binary.INT2
    kinds = (pg_binary.INT8, pg_binary.INT8, time, time, code, time, time, time)
    pk, store, start, end, ended_by, opening, closing, poll = read_copy(sql, params, kinds)

    def instants(column: np.ndarray, missing: int | None = None) -> list[int | None]:
        shifted = (column + pg_binary.PG_EPOCH_SHIFT_US).tolist()
        if missing is None:
            return shifted
        return [None if raw == missing else value for raw, value in zip(column.tolist(), shifted, strict=True)]

    ended = [_ENDED_BY_CODES[number] for number in ended_by.tolist()]
    return list(
        zip(
            pk.tolist(),
            store.tolist(),
            instants(start),
            instants(end, _NO_TIME[0]),
            ended,
            instants(opening),
            instants(closing),
            instants(poll, _NO_TIME[1]),
            strict=True,
        )
    )


def _match(
    outages: list[_Outage], incidents: list[_Existing], lookback_start_us: int
) -> tuple[list[tuple[_Existing, _Outage]], list[_Outage], list[_Existing]]:
    """Pair one store's outages and incidents (each sorted by start) that overlap in time, in
    order; the rest are lone. An open incident or an ongoing outage runs on without end."""
    matches, lone_outages, lone_incidents = [], [], []
    i = j = 0
    while i < len(outages) and j < len(incidents):
        outage, incident = outages[i], incidents[j]
        outage_end = outage.end_us if outage.end_us is not None else 2**62
        incident_end = incident.end_us if incident.end_us is not None else 2**62
        incident_start = max(incident.start_us, lookback_start_us)
        if outage.start_us < incident_end and incident_start < outage_end or (outage.start_us == incident_start):
            matches.append((incident, outage))
            i += 1
            j += 1
        elif outage_end <= incident_start:
            lone_outages.append(outage)
            i += 1
        else:
            lone_incidents.append(incident)
            j += 1
    lone_outages.extend(outages[i:])
    lone_incidents.extend(incidents[j:])
    return matches, lone_outages, lone_incidents


def _settled(incident: _Existing, settled_before_us: int) -> bool:
    return incident.end_us is not None and incident.end_us <= settled_before_us


def _unbacked_in_settled_region(outage: _Outage, live: LiveOutages, settled_before_us: int) -> bool:
    """An outage over by the settled margin that no inactive poll at or before it shows: its status
    is rule 7's fallback to the earliest poll after it, which the lookback's cut brings about (the
    polls before were cut away). Earlier reconciliations saw those polls, so it is not made an
    incident: the lookback moving past a store's last poll of a day would invent one every day."""
    return outage.end_us is not None and outage.end_us <= settled_before_us and _opening_poll_us(outage, live) is None


def _same(incident: _Existing, outage: _Outage, live: LiveOutages) -> bool:
    # The session's bounds are not compared: the engine cuts them to the lookback and to a day
    # past as_of, so they move with every new poll without the incident changing (a store open
    # all the time has one session over the whole lookback).
    return (
        max(incident.start_us, live.lookback_start_us) == outage.start_us
        and incident.end_us == outage.end_us
        and incident.ended_by == _ended_by(outage, live)
        and (_opened_before_lookback(incident, live) or incident.opened_by_us == _opening_poll_us(outage, live))
    )


def _began_before_lookback(incident: _Existing, outage: _Outage, live: LiveOutages) -> bool:
    """The incident began before the lookback: the outage is cut there, and the incident keeps its real start."""
    return outage.start_us == live.lookback_start_us and incident.start_us < live.lookback_start_us


def _opened_before_lookback(incident: _Existing, live: LiveOutages) -> bool:
    """The poll that opened the incident is older than the lookback: the report no longer holds it
    (and names another poll, or none), so the incident keeps it."""
    return incident.opened_by_us is not None and incident.opened_by_us < live.lookback_start_us


def _opening_poll_us(outage: _Outage, live: LiveOutages) -> int | None:
    opened_by = int(live.opened_by_poll[outage.index])
    return None if opened_by < 0 else opened_by


def _ended_by(outage: _Outage, live: LiveOutages) -> str:
    if outage.end_us is None:
        return ""
    if outage.end_us >= int(live.session_end[outage.index]):
        return Incident.EndedBy.SESSION_CLOSED
    return Incident.EndedBy.ACTIVE_POLL


def _row_of(outage: _Outage, live: LiveOutages, incident: _Existing | None = None) -> IncidentRow:
    """The fields of the outage's incident: a new one, or ``incident`` updated (which keeps a start
    and an opening poll older than the lookback)."""
    start = outage.start_us
    opened_by = _opening_poll_us(outage, live)
    if incident is not None:
        start = incident.start_us if _began_before_lookback(incident, outage, live) else start
        opened_by = incident.opened_by_us if _opened_before_lookback(incident, live) else opened_by
    return IncidentRow(
        pk=None if incident is None else incident.pk,
        store_pk=outage.store_pk,
        started_at=_datetime(start),
        ended_at=None if outage.end_us is None else _datetime(outage.end_us),
        ended_by=_ended_by(outage, live),
        session_start=_datetime(int(live.session_start[outage.index])),
        session_end=_datetime(int(live.session_end[outage.index])),
        opened_by_poll_at=None if opened_by is None else _datetime(opened_by),
    )


def _new_incident(outage: _Outage, live: LiveOutages) -> IncidentRow:
    return _row_of(outage, live)


def _apply_updates(updates: list[tuple[_Existing, _Outage]], live: LiveOutages, result: ReconcileResult) -> None:
    changed = []
    for incident, outage in updates:
        changed.append(_row_of(outage, live, incident))
        if incident.end_us is None and outage.end_us is not None:
            result.ended.append(incident.pk)
        elif incident.end_us is not None and outage.end_us is None:
            result.opened.append(incident.pk)  # reopened: a late inactive poll after its end
    update_incidents(changed, timezone.now())
    result.updated = len(changed)


def _remove(incidents: list[_Existing], live: LiveOutages, result: ReconcileResult) -> None:
    """Incidents no outage shows any more: deleted, or retracted where a channel heard of them."""
    told = [incident for incident in incidents if incident.notified]
    untold = [incident.pk for incident in incidents if not incident.notified]
    for first in range(0, len(untold), BULK_BATCH):
        Incident.objects.filter(pk__in=untold[first : first + BULK_BATCH]).delete()
    result.deleted = len(untold)
    for incident in told:
        Incident.objects.filter(pk=incident.pk).update(
            ended_by=Incident.EndedBy.RETRACTED,
            ended_at=_datetime(incident.end_us) if incident.end_us is not None else live.as_of,
            updated_at=timezone.now(),
        )
        if incident.end_us is None:
            result.ended.append(incident.pk)
    result.retracted = len(told)


def _us(moment: dt.datetime) -> int:
    delta = moment - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    return (delta.days * 86_400 + delta.seconds) * MICROSECONDS_PER_SECOND + delta.microseconds


def _us_or_none(moment: dt.datetime | None) -> int | None:
    return None if moment is None else _us(moment)


def _datetime(micros: int) -> dt.datetime:
    return datetime_from_epoch_microseconds(micros)
