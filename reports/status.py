"""``GET /api/status`` (is the data fresh, are the database and the job queue there) and ``/healthz``.

Here, with the API and the jobs, because the stores not reporting need the calculator's business
sessions (reports.freshness); the figures from the monitoring tables are monitoring.freshness.

Both answer callers without credentials, so that a load balancer or a monitor can watch the
service: ``/healthz`` says only that the process answers (no database query); ``/api/status``
gives the service-level fields to anyone, the stores not reporting to callers who may see
stores (only theirs: monitoring.access) and the last import's details to ingest users.
"""

import datetime as dt
import logging
from typing import Any

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.contrib.auth.models import AnonymousUser
from django.db import DatabaseError, connection
from django.http import HttpRequest, HttpResponse
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from monitoring.access import AnyUser, may_ingest, may_use_service, visible_stores
from monitoring.freshness import age_seconds, import_is_stale, last_complete_import, newest_poll_time
from monitoring.models import Import
from reports.freshness import stores_not_reporting

log = logging.getLogger(__name__)

OK = "ok"
# A Redis that does not answer within this long counts as unreachable: the status answers fast.
QUEUE_TIMEOUT_SECONDS = 2


@require_GET
@never_cache
@login_not_required
def healthz(request: HttpRequest) -> HttpResponse:
    """Liveness: the process answers. No database, no sign-in, no https redirect (settings)."""
    return HttpResponse("ok\n", content_type="text/plain; charset=utf-8")


@extend_schema(
    tags=["Service"],
    summary="Service status: data freshness, database and job queue",
    responses={
        200: OpenApiResponse(OpenApiTypes.OBJECT, description="Fresh: an import completed recently."),
        503: OpenApiResponse(
            OpenApiTypes.OBJECT,
            description="No import completed within STALE_AFTER_MINUTES, or the database cannot be reached; "
            '"error" says which.',
        ),
    },
)
class ServiceStatusView(APIView):
    """Answers anyone, also without a token; what it shows depends on who asks."""

    permission_classes = [AllowAny]

    def perform_authentication(self, request) -> None:
        # Reading a session or a token needs the database: while it is down, the caller is
        # answered as an anonymous one (the answer says the database is down), never with a 500.
        try:
            request.user  # noqa: B018 - authenticates
        except DatabaseError:
            request.user = AnonymousUser()
            request.auth = None

    def get(self, request):
        body, status = service_status(request.user)
        response = Response(body, status=status)
        response["Cache-Control"] = "no-store"
        return response


def service_status(user: AnyUser, now: dt.datetime | None = None) -> tuple[dict[str, Any], int]:
    """The status body for ``user`` and its HTTP status: 503 when the database cannot be reached
    or no import completed within STALE_AFTER_MINUTES of ``now`` (the wall clock), else 200."""
    now = now or timezone.now()
    body: dict[str, Any] = {
        "status": OK,
        "checked_at": _iso(now),
        "stale_after_minutes": settings.STALE_AFTER_MINUTES,
    }
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        fields, last_import = _data_fields(user, now)
    except DatabaseError as error:
        log.error("GET /api/status: the database cannot be reached", exc_info=error)
        sentence = f"The database cannot be reached ({type(error).__name__}); the details are in the service's log."
        return {**body, "status": "down", "database": sentence, "queue": queue_state(), "error": sentence}, 503
    body.update(fields, database=OK, queue=queue_state())
    if import_is_stale(last_import, now):
        body["status"] = "stale"
        if last_import is None:
            body["error"] = "No import of data has completed yet: load the feeds (manage.py load_csvs)."
        else:
            body["error"] = (
                f"No import of data completed in the last {settings.STALE_AFTER_MINUTES} minutes: the last one "
                f"finished at {_iso(last_import.finished_at)}."
            )
        return body, 503
    return body, 200


def _data_fields(user: AnyUser, now: dt.datetime) -> tuple[dict[str, Any], Import | None]:
    newest = newest_poll_time()
    last_import = last_complete_import()
    finished = last_import.finished_at if last_import else None
    fields: dict[str, Any] = {
        "newest_poll": {"time": _iso(newest), "age_seconds": age_seconds(newest, now)},
        "last_complete_import": {"time": _iso(finished), "age_seconds": age_seconds(finished, now)},
    }
    if last_import is not None and may_ingest(user):
        fields["last_complete_import"].update(_import_details(last_import))
    if may_use_service(user):
        fields["stores_not_reporting"] = _not_reporting(user)
    return fields, last_import


def _import_details(entry: Import) -> dict[str, Any]:
    return {
        "id": entry.pk,
        "source": entry.source,
        "feed": entry.feed,
        "name": entry.name,
        "rows_read": entry.rows_read,
        "rows_inserted": entry.rows_inserted,
        "summary": entry.summary,
        "admin_url": reverse("admin:monitoring_import_change", args=[entry.pk]),
    }


def _not_reporting(user: AnyUser) -> dict[str, Any]:
    silent = stores_not_reporting(visible_stores(user))
    if silent is None:  # no store has polled yet
        return {"as_of": None, "count": 0, "limit": None, "stores": []}
    return {
        "as_of": _iso(silent.as_of),
        "count": silent.count,
        "limit": silent.limit,
        "stores": [
            {"store_id": s.store_id, "last_poll": _iso(s.last_poll), "url": store_url(s.store_id)}
            for s in silent.stores
        ],
    }


def store_url(store_id: str) -> str:
    """The store's page; "" for an id no URL can hold (one with a slash)."""
    try:
        return reverse("store-week", args=[store_id])
    except NoReverseMatch:
        return ""


def queue_state() -> str:
    """ "ok", or a sentence saying why django-q2's broker cannot be reached: Redis when REDIS_URL
    is set (a ping), otherwise the ORM broker's table in the database."""
    if settings.REDIS_URL:
        import redis  # here, not at the top: a tenth of a second of every start that loads the URLs

        try:
            client = redis.Redis.from_url(
                settings.REDIS_URL, socket_connect_timeout=QUEUE_TIMEOUT_SECONDS, socket_timeout=QUEUE_TIMEOUT_SECONDS
            )
            try:
                client.ping()
            finally:
                client.close()
        except redis.RedisError as error:
            return f"The job queue (Redis) cannot be reached: {error}"
        return OK
    from django_q.models import OrmQ  # the ORM broker's table

    try:
        OrmQ.objects.using(settings.Q_CLUSTER.get("orm", "default")).exists()
    except DatabaseError as error:
        return f"The job queue's table in the database cannot be read ({type(error).__name__})."
    return OK


def _iso(moment: dt.datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
