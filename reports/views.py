"""The pages: a dashboard and a store's week. Views parse and render; the work is elsewhere
(``monitoring.stats``, ``reports.store_week``, ``reports.timeline_drawing``, ``reports.actions``)."""

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import RequestDataTooBig
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.views import defaults
from django.views.decorators.http import require_GET, require_POST

from monitoring.ingestion.errors import BadValue
from monitoring.ingestion.values import parse_store_id
from monitoring.models import Store
from monitoring.stats import feed_stats
from reports.actions import do_trigger_report
from reports.api.errors import api_not_found, is_api_path
from reports.forms import ReportParametersForm
from reports.generation import NoPollsError
from reports.models import Report
from reports.store_week import store_week
from reports.timeline_drawing import draw_week

RECENT_REPORTS = 10


@require_GET
def dashboard(request):
    return render(
        request,
        "dashboard.html",
        {
            "stats": feed_stats(),
            "reports": Report.objects.order_by("-created_at", "-id")[:RECENT_REPORTS],
            "recent_reports": RECENT_REPORTS,
            "form": ReportParametersForm(),
        },
    )


@require_POST
def generate_report(request):
    form = ReportParametersForm(request.POST)
    if form.is_valid():
        report = do_trigger_report(as_of=form.cleaned_data["as_of"], method=form.cleaned_data["method"])
        report.refresh_from_db(fields=["status", "started_at", "error"])
        if report.refused_by_queue:
            messages.error(request, f"Report {report.report_id} could not be started. {report.error}")
        else:
            messages.success(request, f"Report {report.report_id} queued: its status updates below.")
    else:
        messages.error(request, f"No report started. {form.errors_as_sentence()}")
    return redirect(f"{reverse('dashboard')}#reports")


@require_GET
def find_store(request):
    store_id = request.GET.get("store_id", "").strip()
    if not store_id:
        return redirect("dashboard")
    try:
        return redirect("store-week", store_id=store_id)
    except NoReverseMatch:  # e.g. a slash: no store id has one
        return store_not_found(request, store_id)


@require_GET
def store_page(request, store_id):
    if not could_be_store_id(store_id):
        # e.g. a NUL byte, which PostgreSQL refuses in a query: no store has such an id.
        return store_not_found(request, store_id)
    store = (
        Store.objects.select_related("timezone").prefetch_related("business_hours").filter(store_id=store_id).first()
    )
    if store is None:
        return store_not_found(request, store_id)
    # An empty database is the page's own message below, not a bad request.
    form = ReportParametersForm(request.GET, require_polls=False)
    context = {"store": store, "form": form, "lookback_days": settings.REPORT_LOOKBACK_DAYS}
    if not form.is_valid():
        context["error"] = form.errors_as_sentence()
        return render(request, "store_week.html", context, status=400)
    try:
        week = store_week(store, as_of=form.cleaned_data["as_of"], method=form.cleaned_data["method"])
    except NoPollsError as error:
        context["error"] = str(error)
        return render(request, "store_week.html", context)
    context.update(week=week, drawing=draw_week(week.timeline))
    return render(request, "store_week.html", context)


def store_not_found(request, store_id):
    return render(request, "404.html", {"store_id": store_id}, status=404)


def could_be_store_id(text: str) -> bool:
    """Whether ``text`` is a store id as the feeds give them (1 to 64 printable characters)."""
    try:
        return parse_store_id(text) == text
    except BadValue:
        return False


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
