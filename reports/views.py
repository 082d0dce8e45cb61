"""The pages: a dashboard, a store search and a store's week. Views parse and render; the work
is elsewhere (``monitoring.stats``, ``reports.attention``, ``reports.store_week``,
``reports.timeline_drawing``, ``reports.actions``)."""

import datetime as dt

from django.conf import settings
from django.contrib import messages
from django.contrib.messages.storage.base import Message
from django.core.exceptions import RequestDataTooBig
from django.db.models import QuerySet
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.views import defaults
from django.views.decorators.http import require_GET, require_POST

from monitoring.access import AnyUser, may_ingest, scoped_stores, visible_stores
from monitoring.freshness import import_is_stale, last_complete_import, latest_imports
from monitoring.ingestion.values import STORE_ID_MAX_LENGTH, is_store_id
from monitoring.models import Store
from monitoring.stats import feed_stats
from reports.admission import ReportRefused
from reports.api.errors import api_not_found, is_api_path
from reports.attention import dashboard_summary, local_time_text
from reports.forms import GenerateReportForm, ReportParametersForm
from reports.freshness import stores_not_reporting
from reports.generation import NoPollsError
from reports.models import Report
from reports.store_week import store_week, week_links
from reports.timeline_drawing import draw_week
from reports.uptime import DEFAULT_METHOD

RECENT_REPORTS = 10
# The dashboard lists this many stores not reporting (by id); /api/status lists more.
DASHBOARD_NOT_REPORTING = 10
# The store search by part of an id: how much to type, and how many matches to list.
SEARCH_MIN_CHARACTERS = 3
SEARCH_LIMIT = 20


# Messages about a report started from the dashboard: shown above the reports table, where the
# new report appears, not at the top of the page.
REPORT_MESSAGE = "report"


@require_GET
def dashboard(request):
    # ?new=<report_id>: the report just started here (generate_report), highlighted in the table.
    return render_dashboard(request, GenerateReportForm(user=request.user), new_report_id=request.GET.get("new", ""))


def render_dashboard(request, form, new_report_id="", status=200):
    report_messages: list[Message] = []
    other_messages: list[Message] = []
    for message in messages.get_messages(request):
        (report_messages if REPORT_MESSAGE in message.tags.split() else other_messages).append(message)
    # Everything below is of the caller's stores only (monitoring.access); None: every store.
    stores = scoped_stores(request.user)
    stats = feed_stats(stores)
    attention = dashboard_summary(stats.polls.value, stats.newest_poll, request.user)
    query = _store_query(attention.summary, stats.newest_poll)
    return render(
        request,
        "dashboard.html",
        {
            "stats": stats,
            "scoped": stores is not None,  # the figures are of the caller's owners' stores
            "attention": attention,
            "summary_as_of": dt.datetime.fromisoformat(attention.summary["as_of"]) if attention.summary else None,
            "needing_attention": [
                {**entry, "url": store_page_url(entry["store_id"], query)}
                for entry in attention.summary.get("attention", [])
            ],
            "offline_now": [
                {
                    **entry,
                    "url": store_page_url(entry["store_id"], query),
                    "since_text": local_time_text(entry["since"], entry["zone"]),
                }
                for entry in attention.summary.get("offline_now", [])
            ],
            "freshness": _freshness(request.user, stores),
            "reports": Report.objects.visible_to(request.user).order_by("-created_at", "-id")[:RECENT_REPORTS],
            "recent_reports": RECENT_REPORTS,
            "form": form,
            "new_report_id": new_report_id,
            "report_messages": report_messages,
            "other_messages": other_messages,
        },
        status=status,
    )


def _freshness(user: AnyUser, stores: QuerySet[Store] | None) -> dict:
    """The "Data freshness" section (monitoring.freshness): the stores not reporting among the
    caller's, and for staff and ingest users the last complete import and the latest imports."""
    ingest = may_ingest(user)
    now = timezone.now()
    last_import = last_complete_import() if ingest else None
    silent = stores_not_reporting(stores, limit=DASHBOARD_NOT_REPORTING)
    return {
        "now": now,
        "stale_after_minutes": settings.STALE_AFTER_MINUTES,
        "may_ingest": ingest,
        "last_import": last_import,
        "import_stale": ingest and import_is_stale(last_import, now),
        "not_reporting": silent,
        "not_reporting_stores": [
            {"store_id": s.store_id, "last_poll": s.last_poll, "url": store_page_url(s.store_id)}
            for s in (silent.stores if silent else [])
        ],
        "latest_imports": latest_imports() if ingest else [],
    }


def _store_query(summary: dict, newest_poll: dt.datetime | None) -> str:
    """The store pages' query string that shows what a summary shows: its as_of unless that is
    the newest poll (the page's default), its method unless the default."""
    if not summary:
        return ""
    query = {}
    as_of = dt.datetime.fromisoformat(summary["as_of"])
    if newest_poll is None or as_of != newest_poll:
        query["as_of"] = as_of_parameter(as_of)
    if summary.get("method", DEFAULT_METHOD) != DEFAULT_METHOD:
        query["method"] = summary["method"]
    return f"?{urlencode(query)}" if query else ""


@require_POST
def generate_report(request):
    form = GenerateReportForm(request.POST, user=request.user)
    if not form.is_valid():
        # The dashboard again, with the errors beside the fields and what was typed still there.
        return render_dashboard(request, form, status=400)
    try:
        admission = form.admit(request)
    except ReportRefused as refusal:
        # The same sentence as the API's, above the form, with what was typed still there.
        form.add_error(None, refusal.sentence)
        response = render_dashboard(request, form, status=refusal.status_code)
        if refusal.retry_after:
            response["Retry-After"] = str(refusal.retry_after)
        return response
    report = admission.report
    if admission.existing:
        messages.info(request, admission.handed_back_sentence, extra_tags=REPORT_MESSAGE)
    else:
        report.refresh_from_db(fields=["status", "started_at", "error"])
        if report.refused_by_queue:
            text = f"Report {report.report_id} could not be started. {report.error}"
            messages.error(request, text, extra_tags=REPORT_MESSAGE)
        else:
            text = f"Report {report.report_id} queued: its status updates below."
            messages.success(request, text, extra_tags=REPORT_MESSAGE)
    # Post/redirect/get: a reload does not start another report.
    return redirect(f"{reverse('dashboard')}?{urlencode({'new': report.report_id})}#reports")


@require_GET
def find_store(request):
    """A whole store id opens its page; part of one (any case) lists the stores whose id holds it."""
    text = request.GET.get("store_id", "").strip()
    if not text:
        return redirect("dashboard")
    if not is_store_id(text):
        # e.g. a NUL byte (PostgreSQL refuses it in a query) or a page of text: no id holds it.
        return render(request, "store_search.html", {"query": text[:64], "error": _search_error(text)}, status=400)
    stores = visible_stores(request.user)
    if stores.filter(store_id=text).exists():
        try:
            return redirect("store-week", store_id=text)
        except NoReverseMatch:  # a slash: the store's page has no URL
            return store_not_found(request, text)
    if len(text) < SEARCH_MIN_CHARACTERS:
        hint = f"To search by part of an id, type at least {SEARCH_MIN_CHARACTERS} characters of it."
        return render(request, "404.html", {"store_id": text, "search_hint": hint}, status=404)
    found = list(
        stores.filter(store_id__icontains=text)
        .order_by("store_id")
        .values_list("store_id", flat=True)[: SEARCH_LIMIT + 1]
    )
    if not found:
        hint = f"No store id contains “{text}” either (in any case)."
        return render(request, "404.html", {"store_id": text, "search_hint": hint}, status=404)
    matches = [{"store_id": store_id, "url": store_page_url(store_id)} for store_id in found[:SEARCH_LIMIT]]
    context = {"query": text, "matches": matches, "more": len(found) > SEARCH_LIMIT, "limit": SEARCH_LIMIT}
    return render(request, "store_search.html", context)


def store_page_url(store_id: str, query: str = "") -> str:
    """The store's page, "" for an id no URL can hold (one with a slash)."""
    try:
        return reverse("store-week", args=[store_id]) + query
    except NoReverseMatch:
        return ""


def _search_error(text: str) -> str:
    if len(text) > STORE_ID_MAX_LENGTH:
        return (
            f"That is {len(text):,} characters; a store id has at most {STORE_ID_MAX_LENGTH}. "
            "Type an id or part of one."
        )
    return "A store id holds no control characters (such as NUL, tab or a line break). Type an id or part of one."


@require_GET
def store_page(request, store_id):
    if not is_store_id(store_id):
        # e.g. a NUL byte, which PostgreSQL refuses in a query: no store has such an id.
        return store_not_found(request, store_id)
    # Another owner's store is answered exactly as an unknown one.
    stores = scoped_stores(request.user)
    store = (
        visible_stores(request.user)
        .select_related("timezone")
        .prefetch_related("business_hours")
        .filter(store_id=store_id)
        .first()
    )
    if store is None:
        return store_not_found(request, store_id)
    # An empty database is the page's own message below, not a bad request.
    form = ReportParametersForm(request.GET, require_polls=False, stores=stores)
    context = {"store": store, "form": form, "lookback_days": settings.REPORT_LOOKBACK_DAYS}
    if not form.is_valid():
        context["error"] = form.errors_as_sentence()
        return render(request, "store_week.html", context, status=400)
    try:
        week = store_week(store, as_of=form.cleaned_data["as_of"], method=form.cleaned_data["method"], stores=stores)
    except NoPollsError as error:
        context["error"] = str(error)
        return render(request, "store_week.html", context)
    context.update(week=week, drawing=draw_week(week.timeline), **_week_link_urls(store.store_id, week, stores))
    return render(request, "store_week.html", context)


def _week_link_urls(store_id: str, week, stores: QuerySet[Store] | None) -> dict[str, str]:
    """The previous / next week's page (as_of ± 7 days, the same method), "" where there is none."""
    links = week_links(week.report.as_of, stores)
    page = reverse("store-week", args=[store_id])

    def url(as_of) -> str:
        query = {"as_of": as_of_parameter(as_of)} if as_of else {}
        if week.report.method != DEFAULT_METHOD:
            query["method"] = week.report.method
        return f"{page}?{urlencode(query)}" if query else page

    return {
        "previous_week_url": url(links.previous) if links.previous else "",
        "next_week_url": url(links.next) if links.next else "",
        "newest_week_url": url(None) if links.newest else "",
    }


def as_of_parameter(moment) -> str:
    """A report time as the pages' ``?as_of=`` takes it back, e.g. ``2023-01-25T12:00:00Z``."""
    return moment.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def store_not_found(request, store_id):
    return render(request, "404.html", {"store_id": store_id}, status=404)


def bad_request(request, exception):
    """Django's handler400 (bodies over the upload limit, too many fields, …): the site's error
    page, 413 for a body that is too large."""
    if isinstance(exception, RequestDataTooBig):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        return render(request, "413.html", {"limit_kb": limit // 1024 if limit else None}, status=413)
    return render(request, "400.html", status=400)


def page_not_found(request, exception):
    """Django's handler404: JSON under /api/, the site's 404 page elsewhere."""
    if is_api_path(request.path):
        return api_not_found(request)
    return defaults.page_not_found(request, exception)
