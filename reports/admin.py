"""Admin for reports: read-only rows with live-looking progress, and a button that starts one.

Starting a report goes through ``reports.actions.do_trigger_report``, as from the API and the
dashboard.
"""

import datetime as dt

from django.contrib import admin, messages
from django.shortcuts import redirect
from django.urls import path, reverse
from django.utils.html import format_html
from django.views.decorators.http import require_POST

from reports.actions import do_trigger_report
from reports.forms import ReportParametersForm
from reports.models import Report


@admin.register(Report)
class ReportAdmin(admin.ModelAdmin):
    list_display = (
        "report_id",
        "status",
        "progress_bar",
        "as_of_utc",
        "method_name",
        "stores",
        "duration_text",
        "download",
        "created",
    )
    list_filter = ("status", "method")
    search_fields = ("=report_id",)
    date_hierarchy = "created_at"
    show_full_result_count = False
    list_per_page = 50
    actions = ("generate_like_selected",)
    fields = (
        "report_id",
        "status",
        "progress_bar",
        "as_of_utc",
        "method",
        "store_count",
        "created_at",
        "started_at",
        "finished_at",
        "duration_text",
        "download",
        "error",
    )
    readonly_fields = fields

    def has_add_permission(self, request):
        return False  # reports are generated, not typed in

    def has_change_permission(self, request, obj=None):
        return False

    def get_urls(self):
        generate = self.admin_site.admin_view(require_POST(self.generate_view))
        return [path("generate/", generate, name="reports_report_generate")] + super().get_urls()

    def changelist_view(self, request, extra_context=None):
        extra_context = {**(extra_context or {}), "generate_form": ReportParametersForm()}
        return super().changelist_view(request, extra_context)

    def generate_view(self, request):
        form = ReportParametersForm(request.POST)
        if form.is_valid():
            report = do_trigger_report(as_of=form.cleaned_data["as_of"], method=form.cleaned_data["method"])
            self.message_user(request, f"Report {report.report_id} queued.", messages.SUCCESS)
        else:
            self.message_user(request, f"No report started. {form.errors_as_sentence()}", messages.ERROR)
        return redirect("admin:reports_report_changelist")

    @admin.action(description="Generate a new report with the same as of and method")
    def generate_like_selected(self, request, queryset):
        started = [do_trigger_report(as_of=r.as_of, method=r.method) for r in queryset]
        self.message_user(
            request, f"{len(started)} report(s) queued: {', '.join(r.report_id for r in started)}.", messages.SUCCESS
        )

    @admin.display(description="progress", ordering="progress")
    def progress_bar(self, report):
        percent = round(report.progress * 100)
        return format_html(
            '<span style="white-space:nowrap"><progress max="100" value="{}" style="width:5em;'
            'vertical-align:middle"></progress> {}%</span>',
            percent,
            percent,
        )

    @admin.display(description="as of (UTC)", ordering="as_of")
    def as_of_utc(self, report):
        # Seconds matter (the default as_of is the newest poll, e.g. 18:13:22.479220).
        if report.as_of is None:
            return "newest poll (when it runs)"
        return f"{report.as_of.astimezone(dt.UTC):%Y-%m-%d %H:%M:%S.%f}".rstrip("0").rstrip(".")

    @admin.display(description="method", ordering="method")
    def method_name(self, report):
        return report.method

    @admin.display(description="stores", ordering="store_count")
    def stores(self, report):
        return "-" if report.store_count is None else report.store_count

    @admin.display(description="created (UTC)", ordering="created_at")
    def created(self, report):
        return f"{report.created_at.astimezone(dt.UTC):%Y-%m-%d %H:%M:%S}"

    @admin.display(description="duration")
    def duration_text(self, report):
        duration = report.duration
        return "-" if duration is None else f"{duration.total_seconds():.1f} s"

    @admin.display(description="CSV")
    def download(self, report):
        if report.status != Report.Status.COMPLETE:
            return "-"
        return format_html('<a href="{}" download>download</a>', reverse("report-csv", args=[report.report_id]))
