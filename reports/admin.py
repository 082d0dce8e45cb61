"""Admin for reports, and the reports app's part of a store's admin page.

Reports: read-only rows with live-looking progress, when each will be pruned, and a button that
starts one. Starting a report goes through ``reports.admission.admit_report`` (owner, rate limit,
pending cap), as from the API and the dashboard.

Stores: ``monitoring`` registers the stores admin without knowing about reports; this module
re-registers it with the store's report figures and a link to its week page added.
"""

import datetime as dt

from django.conf import settings
from django.contrib import admin, messages
from django.db.models import F
from django.shortcuts import redirect
from django.template.loader import render_to_string
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.http import urlencode
from django.views.decorators.http import require_POST

from monitoring.admin import StoreAdmin
from monitoring.models import Owner, Store
from reports.admission import Admission, ReportRefused, admit_report
from reports.forms import GenerateReportForm
from reports.generation import NoPollsError
from reports.models import DEFAULT_COLUMNS, Report, ReportShard
from reports.retention import FINISHED
from reports.store_week import store_figures
from reports.uptime import DEFAULT_METHOD


class StoresOfFilter(admin.SimpleListFilter):
    """Reports by whose stores they cover: every store's, or one owner's."""

    title = "stores of"
    parameter_name = "stores_of"
    EVERY_STORE = "all"

    def lookups(self, request, model_admin):
        owners = Owner.objects.filter(reports__isnull=False).distinct().order_by("name")
        return [(self.EVERY_STORE, "all stores"), *((owner.slug, owner.name) for owner in owners)]

    def queryset(self, request, queryset):
        if self.value() is None:
            return queryset
        if self.value() == self.EVERY_STORE:
            return queryset.filter(owner__isnull=True)
        return queryset.filter(owner__slug=self.value())


class ReportShardInline(admin.TabularInline):
    """A sharded report's shards (its current run's), in store order: who ran each, how long."""

    model = ReportShard
    verbose_name = "shard"
    verbose_name_plural = "shards (a report of more than REPORT_SHARD_STORES stores is computed in pieces)"
    fields = (
        "number",
        "status",
        "stores",
        "store_count",
        "attempts",
        "worker",
        "started_at",
        "finished_at",
        "duration_text",
        "error",
    )
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = False

    def get_queryset(self, request):
        return super().get_queryset(request).filter(report_attempt=F("report__attempts")).order_by("number")

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description="stores (primary keys)")
    def stores(self, shard: ReportShard) -> str:
        return f"{shard.first_store_pk} to {shard.last_store_pk}"

    @admin.display(description="duration")
    def duration_text(self, shard: ReportShard) -> str:
        duration = shard.duration
        return "–" if duration is None else f"{duration.total_seconds():.1f} s"


@admin.register(Report)
class ReportAdmin(admin.ModelAdmin):
    # Fits a 1280 px window with the admin's sidebars open (tests/reports/test_pages_browser.py):
    # progress shows in the status cell while it runs, the method under the as of, and when a
    # report is pruned in the created cell's tooltip and on the report's page.
    list_display = (
        "report_id",
        "status_text",
        "as_of_and_method",
        "stores_of_and_count",
        "duration_text",
        "download",
        "created",
    )
    list_filter = ("status", "method", "columns", StoresOfFilter)
    list_select_related = ("owner",)
    search_fields = ("=report_id",)
    date_hierarchy = "created_at"
    show_full_result_count = False
    list_per_page = 50
    actions = ("generate_like_selected",)
    fields = (
        "report_id",
        "status",
        "progress_bar",
        "stores_of",
        "requested_by",
        "as_of_utc",
        "method",
        "columns",
        "store_count",
        "shard_count",
        "created_at",
        "started_at",
        "finished_at",
        "duration_text",
        "download",
        "outages_download",
        "error",
        "retention",
    )
    readonly_fields = fields
    inlines = (ReportShardInline,)

    class Media:
        css = {"all": ("storemonitor/admin.css",)}

    def has_add_permission(self, request):
        return False  # reports are generated, not typed in

    def has_change_permission(self, request, obj=None):
        return False

    def get_urls(self):
        generate = self.admin_site.admin_view(require_POST(self.generate_view))
        return [path("generate/", generate, name="reports_report_generate")] + super().get_urls()

    def changelist_view(self, request, extra_context=None):
        extra_context = {**(extra_context or {}), "generate_form": GenerateReportForm(user=request.user)}
        return super().changelist_view(request, extra_context)

    def generate_view(self, request):
        """The Generate button: the dashboard's form and rules (``reports.admission``), its sentences
        as admin messages."""
        changelist = reverse("admin:reports_report_changelist")
        form = GenerateReportForm(request.POST, user=request.user)
        if not form.is_valid():
            self.message_user(request, f"No report started. {form.errors_as_sentence()}", messages.ERROR)
            return redirect(changelist)
        try:
            admission = form.admit(request)
        except ReportRefused as refusal:
            self.message_user(request, f"No report started. {refusal.sentence}", messages.ERROR)
            return redirect(changelist)
        report = admission.report
        if admission.existing:
            self.message_user(request, admission.handed_back_sentence, messages.INFO)
            # The list searched for its id (search_fields): that report's row alone.
            return redirect(f"{changelist}?{urlencode({'q': report.report_id})}")
        self.message_user(request, f"Report {report.report_id} queued.", messages.SUCCESS)
        return redirect(changelist)

    @admin.action(description="Generate again (same settings)")
    def generate_like_selected(self, request, queryset):
        """Each selected report again, for the same stores, through the same rules as the button."""
        started: list[str] = []
        pending: list[Admission] = []
        refused: list[str] = []
        for old in queryset.select_related("owner"):
            try:
                admission = admit_report(
                    request,
                    owner_slug=old.owner.slug if old.owner is not None else None,
                    as_of=old.as_of,
                    method=old.method,
                    columns=old.columns,
                )
            except ReportRefused as refusal:
                refused.append(refusal.sentence)
                continue
            if admission.existing:
                pending.append(admission)
            else:
                started.append(admission.report.report_id)
        if started:
            self.message_user(request, f"{len(started)} report(s) queued: {', '.join(started)}.", messages.SUCCESS)
        for admission in pending:
            self.message_user(request, admission.handed_back_sentence, messages.INFO)
        # One message per reason: a rate limit refuses every report after it the same way.
        for sentence in dict.fromkeys(refused):
            self.message_user(request, f"No report started. {sentence}", messages.ERROR)

    @admin.display(description="status", ordering="status")
    def status_text(self, report):
        """The status, and what makes a finished report not a good one: its error, or no stores
        (the dashboard's words, from the same template)."""
        status = render_to_string("includes/report_status.html", {"report": report})
        if report.status in FINISHED:
            return status
        return format_html("{}<br>{}", status, self.progress_bar(report))

    @admin.display(description="progress", ordering="progress")
    def progress_bar(self, report):
        percent = round(report.progress * 100)
        return format_html(
            '<span class="progress"><progress max="100" value="{}"></progress> {}%</span>', percent, percent
        )

    @admin.display(description="as of (UTC)", ordering="as_of")
    def as_of_utc(self, report):
        # Seconds matter (the default as_of is the newest poll, e.g. 18:13:22.479220).
        if report.as_of is None:
            return "newest poll (when it runs)"
        return f"{report.as_of.astimezone(dt.UTC):%Y-%m-%d %H:%M:%S.%f}".rstrip("0").rstrip(".")

    @admin.display(description="as of (UTC), method", ordering="as_of")
    def as_of_and_method(self, report):
        # The column set only when it is not the assignment's seven columns.
        extra = "" if report.columns == DEFAULT_COLUMNS else f", {report.columns}"
        return format_html('{}<br><span class="method">{}{}</span>', self.as_of_utc(report), report.method, extra)

    @admin.display(description="Stores of", ordering="owner__name")
    def stores_of(self, report):
        """Whose stores the report covers: the owner's name, or all stores."""
        return "all stores" if report.owner is None else report.owner.name

    @admin.display(description="Stores of", ordering="owner__name")
    def stores_of_and_count(self, report):
        # One column for both, so that the list still fits a 1280 px window.
        return format_html('{}<br><span class="method">{} stores</span>', self.stores_of(report), self.stores(report))

    @admin.display(description="stores", ordering="store_count")
    def stores(self, report):
        return "-" if report.store_count is None else report.store_count

    @admin.display(description="created (UTC)", ordering="created_at")
    def created(self, report):
        return format_html(
            '<span title="Pruned after {} UTC">{}</span>',
            f"{report.kept_until.astimezone(dt.UTC):%Y-%m-%d %H:%M:%S}",
            f"{report.created_at.astimezone(dt.UTC):%Y-%m-%d %H:%M:%S}",
        )

    @admin.display(description="pruned")
    def retention(self, report):
        text = (
            f"At the first daily prune after {report.kept_until.astimezone(dt.UTC):%Y-%m-%d %H:%M:%S} UTC, "
            f"with its CSV (reports are kept REPORT_RETENTION_DAYS = {settings.REPORT_RETENTION_DAYS} days)."
        )
        if report.status not in FINISHED:
            text += f" Not while it is {report.status}: at the first prune after it finishes."
        return text

    @admin.display(description="run time")
    def duration_text(self, report):
        duration = report.duration
        return "-" if duration is None else f"{duration.total_seconds():.1f}\N{NO-BREAK SPACE}s"

    @admin.display(description="CSV")
    def download(self, report):
        if report.status != Report.Status.COMPLETE:
            return "-"
        csv_link = format_html('<a href="{}" download>CSV</a>', reverse("report-csv", args=[report.report_id]))
        if not report.outages_file:
            return csv_link
        return format_html("{}<br>{}", csv_link, self.outages_download(report))

    @admin.display(description="outages CSV")
    def outages_download(self, report):
        """Every store's outages, written by the same job (reports completed before outages were
        kept have none)."""
        if report.status != Report.Status.COMPLETE or not report.outages_file:
            return "-"
        url = reverse("report-outages-csv", args=[report.report_id])
        return format_html('<a href="{}" download title="every store\'s outages">outages</a>', url)


admin.site.unregister(Store)


@admin.register(Store)
class StoreWithReportAdmin(StoreAdmin):
    """The stores admin with the store's report row (as of the newest poll) and its week page."""

    # The store's page, by store id, beside the admin's own link (by the internal number).
    list_display = (StoreAdmin.list_display[0], "page_link", *StoreAdmin.list_display[1:])
    fields = (*StoreAdmin.fields, "figures", "week_page")
    readonly_fields = (*StoreAdmin.readonly_fields, "figures", "week_page")

    def view_on_site(self, store: Store) -> str:
        return reverse("store-week", args=[store.store_id])

    @admin.display(description="report figures")
    def figures(self, store: Store) -> str:
        try:
            report = store_figures(store.store_id)
        except NoPollsError as error:
            return str(error)
        if not report.figures:
            return f"No polls in the lookback before {report.as_of:%Y-%m-%d %H:%M:%S} UTC: not in the report."
        rows = format_html_join(
            "",
            "<tr><th>last {}</th><td>{} {}</td><td>{} {}</td></tr>",
            (
                (up.window, up.value, up.unit, down.value, down.unit)
                for up, down in zip(report.figures[:3], report.figures[3:], strict=True)
            ),
        )
        return format_html(
            '<table class="store-figures"><thead><tr><th>window</th><th>uptime</th><th>downtime</th>'
            "</tr></thead><tbody>{}</tbody></table>"
            "<p>As of {} UTC (newest poll), method {}.</p>",
            rows,
            f"{report.as_of:%Y-%m-%d %H:%M:%S}",
            DEFAULT_METHOD,
        )

    @admin.display(description="page")
    def page_link(self, store: Store) -> str:
        url = reverse("store-week", args=[store.store_id])
        return format_html('<a href="{}" title="The store\'s page: its last week and figures">week</a>', url)

    @admin.display(description="store page")
    def week_page(self, store: Store) -> str:
        url = reverse("store-week", args=[store.store_id])
        return format_html('<a href="{}">{}</a>: its last week as a timeline, and its figures', url, url)
