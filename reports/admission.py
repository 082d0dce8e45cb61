"""Whether, and which, report a trigger gets: the one place that decides it.

The API (POST /trigger_report), the dashboard's Generate form and the admin's all call
``admit_report``, which applies the rules of the README ("Limits") in this order:

1. which stores: ``monitoring.access.report_owner_for`` (a user of no owner is refused with 403,
   a bad, another owner's or a missing owner slug with 400);
2. the rate limit: ``REPORT_TRIGGER_RATE`` triggers per user, or per IP address for anonymous
   callers (429 with Retry-After);
3. an identical report (same owner, as_of, method and columns) that is still Pending is handed
   back instead of queuing another;
4. at most ``MAX_PENDING_REPORTS_PER_OWNER`` Pending reports per owner (the all-stores reports of
   staff and anonymous callers are one group); beyond, 429 with Retry-After;
5. otherwise ``reports.actions.do_trigger_report``.

Steps 3 to 5 run in one transaction holding a lock per owner group, so simultaneous triggers
can neither exceed the cap nor queue the same report twice.

Refusals are ``ReportRefused``: a DRF ``APIException`` (the API's error handler answers it as
``{"error": sentence}`` with its status and a Retry-After header) that the pages and the admin
show as the same sentence.
"""

import math
import statistics
import zlib
from dataclasses import dataclass

from django.conf import settings
from django.db import connection, transaction
from django.http import HttpRequest
from rest_framework import status
from rest_framework.exceptions import APIException
from rest_framework.request import Request
from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle

from monitoring.access import AnyUser, OwnerChoiceError, may_use_service, owners_of, report_owner_for, sees_all_stores
from monitoring.models import Owner
from reports.actions import do_trigger_report
from reports.models import Report

Status = Report.Status

# Retry-After of the pending cap, in seconds: never sooner than this (a worker needs a moment to
# take a report) and never later (an estimate from a long queue is too uncertain to promise).
RETRY_AFTER_MIN_SECONDS = 10
RETRY_AFTER_MAX_SECONDS = 3600
# How long a report is assumed to run when none has completed yet, and how many recent runs the
# estimate looks at.
ASSUMED_RUN_SECONDS = 60
RECENT_RUNS = 20

# The key space of the PostgreSQL advisory locks taken here (the first of the two int4 keys),
# so they never collide with another use of advisory locks.
_LOCK_NAMESPACE = zlib.crc32(b"storemonitor.report_trigger") - 2**31


@dataclass(frozen=True)
class Admission:
    """What a trigger got: ``report``, and ``existing`` when it is an identical Pending report
    handed back instead of a new one."""

    report: Report
    existing: bool = False

    @property
    def handed_back_sentence(self) -> str:
        """What the dashboard and the admin say when ``existing``."""
        return f"Report {self.report.report_id} with the same settings is still pending: showing it."


class ReportRefused(APIException):
    """A trigger refused: ``status_code``, a sentence saying what to do (``sentence``, also DRF's
    ``detail``), and for 429s how many seconds to wait (``retry_after``; DRF's ``wait``, which its
    exception handler sends as Retry-After)."""

    def __init__(self, sentence: str, *, status_code: int, retry_after: int | None = None):
        super().__init__(sentence)
        self.status_code = status_code
        self.wait = retry_after

    @property
    def sentence(self) -> str:
        return str(self.detail)

    @property
    def retry_after(self) -> int | None:
        return self.wait


class ReportTriggerThrottle(SimpleRateThrottle):
    """DRF's rate throttle of report triggers: ``REPORT_TRIGGER_RATE`` per user when signed in,
    per IP address otherwise; histories in the default cache.

    The rate is read when the throttle is made (once per trigger), not from DRF's
    DEFAULT_THROTTLE_RATES, so the setting alone decides it. Works on DRF's Request and on a
    plain HttpRequest alike (both have ``user`` and ``META``).
    """

    scope = "report_trigger"
    # Set by SimpleRateThrottle.__init__ from the rate (the stubs do not declare them).
    num_requests: int
    duration: int

    def get_rate(self) -> str:
        return settings.REPORT_TRIGGER_RATE

    def get_cache_key(self, request, view) -> str:
        user = request.user
        ident = f"user-{user.pk}" if user.is_authenticated else f"ip-{self.get_ident(request)}"
        return self.cache_format % {"scope": self.scope, "ident": ident}

    def wait(self) -> float:
        # Until enough of the window's triggers have aged out to let one more in. DRF's own
        # estimate spreads the remaining requests over the window, and gives None once the
        # history holds more than the rate allows (the rate was lowered since).
        if len(self.history) < self.num_requests:
            return 0.0
        blocking = self.history[self.num_requests - 1]  # the history is newest first
        return max(0.0, self.duration - (self.now - blocking))

    def get_ident(self, request) -> str:
        # DRF trusts a client's X-Forwarded-For whole while NUM_PROXIES is unset, which lets an
        # anonymous caller pick a new "address" per request; then only the connection's address
        # counts. With NUM_PROXIES set (behind a proxy), DRF's own reading applies.
        if api_settings.NUM_PROXIES is None:
            return request.META.get("REMOTE_ADDR") or ""
        return super().get_ident(request)


def admit_report(
    request: HttpRequest | Request,
    *,
    owner_slug: str | None,
    as_of,
    method: str,
    columns: str,
) -> Admission:
    """The report ``request``'s user gets for these parameters: a new Pending report, or an
    identical Pending one handed back (``Admission.existing``).

    Raises ReportRefused (403, 400 or 429, with its sentence; Retry-After for 429) and, as
    ``do_trigger_report`` does, ValueError for an unknown method or column set or a naive as_of.
    """
    user = request.user
    owner = _owner(user, owner_slug)
    _check_rate(request, user)
    signed_in = user if user.is_authenticated else None
    with transaction.atomic():
        _lock_group(owner)
        group = _pending(owner)
        same = group.filter(as_of=as_of, method=method, columns=columns).order_by("created_at", "id").first()
        if same is not None:
            return Admission(same, existing=True)
        limit = settings.MAX_PENDING_REPORTS_PER_OWNER
        waiting = group.count()
        if waiting >= limit:
            raise _too_many_pending(owner, waiting, limit)
        # Queued when the transaction commits (do_trigger_report), so after the lock is released.
        report = do_trigger_report(as_of=as_of, method=method, columns=columns, owner=owner, requested_by=signed_in)
    return Admission(report)


def pending_retry_after(owner: Owner | None) -> int:
    """Seconds until one of ``owner``'s Pending reports (every store's, for None) has likely
    started, freeing a place under the cap.

    Workers take reports in the order they were queued, so the group's oldest Pending report
    starts once the reports ahead of it (Running ones, and Pending ones created before it) leave
    fewer than one per worker (Q_CLUSTER workers) in its way: about ceil((ahead - workers + 1) /
    workers) runs of the median run time of the last RECENT_RUNS complete reports (ASSUMED_RUN_SECONDS
    before any completed). Bounded to [RETRY_AFTER_MIN_SECONDS, RETRY_AFTER_MAX_SECONDS].
    """
    oldest = _pending(owner).order_by("created_at", "id").first()
    if oldest is None:
        return RETRY_AFTER_MIN_SECONDS
    ahead = (
        Report.objects.filter(status=Status.RUNNING).count()
        + Report.objects.filter(status=Status.PENDING, created_at__lt=oldest.created_at).count()
    )
    configured = settings.Q_CLUSTER.get("workers", 1)
    workers = max(1, configured if isinstance(configured, int) else 1)
    rounds = math.ceil(max(0, ahead - workers + 1) / workers)
    estimate = math.ceil(rounds * _typical_run_seconds())
    return min(max(estimate, RETRY_AFTER_MIN_SECONDS), RETRY_AFTER_MAX_SECONDS)


def owner_status(user: AnyUser) -> int:
    """The status of an OwnerChoiceError for ``user``: 403 for a signed-in user of no owner (it
    can do nothing about it but ask), 400 for a choice it can correct."""
    if user.is_authenticated and not sees_all_stores(user) and not owners_of(user).exists():
        return status.HTTP_403_FORBIDDEN
    return status.HTTP_400_BAD_REQUEST


# --- Internals -----------------------------------------------------------------------------


def _owner(user: AnyUser, owner_slug: str | None) -> Owner | None:
    if not may_use_service(user):
        # The views refuse anonymous callers first when anonymous access is off; this guard
        # keeps the rule even where a caller forgot.
        raise ReportRefused("Sign in (or send an API token) to trigger reports.", status_code=status.HTTP_403_FORBIDDEN)
    try:
        return report_owner_for(user, owner_slug)
    except OwnerChoiceError as error:
        raise ReportRefused(str(error), status_code=owner_status(user)) from None


def _check_rate(request: HttpRequest | Request, user: AnyUser) -> None:
    throttle = ReportTriggerThrottle()
    # The throttle reads only ``user`` and ``META``, which a plain HttpRequest has too; no view.
    if throttle.allow_request(request, None):  # type: ignore[arg-type]
        return
    wait = max(1, math.ceil(throttle.wait() or 1))
    per = "per user" if user.is_authenticated else "per IP address for callers who are not signed in"
    raise ReportRefused(
        f"Too many reports triggered: at most {throttle.num_requests} per {_period_text(throttle.duration)} {per} "
        f"(REPORT_TRIGGER_RATE={settings.REPORT_TRIGGER_RATE}). "
        f"Try again in {wait} second{'s' if wait != 1 else ''}.",
        status_code=status.HTTP_429_TOO_MANY_REQUESTS,
        retry_after=wait,
    )


def _pending(owner: Owner | None):
    return Report.objects.filter(status=Status.PENDING, owner=owner)


def _lock_group(owner: Owner | None) -> None:
    """Serialise the triggers of one owner group until the transaction ends.

    PostgreSQL: an advisory transaction lock keyed by the owner (0 for every store). SQLite: the
    settings make every transaction BEGIN IMMEDIATE, which already holds the database's write
    lock, so triggers are serialised there without more.
    """
    if connection.vendor == "postgresql":
        key = (owner.pk if owner is not None else 0) % 2**31
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s::int4, %s::int4)", [_LOCK_NAMESPACE, key])


def _too_many_pending(owner: Owner | None, waiting: int, limit: int) -> ReportRefused:
    whose = f"of owner {owner.slug}" if owner is not None else "of all stores"
    wait = pending_retry_after(owner)
    return ReportRefused(
        f"{waiting} report{'s' if waiting != 1 else ''} {whose} {'are' if waiting != 1 else 'is'} already "
        f"Pending, the most allowed (MAX_PENDING_REPORTS_PER_OWNER={limit}): trigger again once one of them "
        f"has started, in about {wait} seconds.",
        status_code=status.HTTP_429_TOO_MANY_REQUESTS,
        retry_after=wait,
    )


def _typical_run_seconds() -> float:
    runs = Report.objects.filter(status=Status.COMPLETE, started_at__isnull=False, finished_at__isnull=False).order_by(
        "-finished_at"
    )[:RECENT_RUNS]
    durations = [
        (r.finished_at - r.started_at).total_seconds()
        for r in runs.only("started_at", "finished_at")
        if r.finished_at is not None and r.started_at is not None
    ]
    return statistics.median(durations) if durations else ASSUMED_RUN_SECONDS


def _period_text(seconds: int) -> str:
    return {1: "second", 60: "minute", 3600: "hour", 86400: "day"}.get(seconds, f"{seconds} seconds")
