"""The alerts in the Django admin: incidents, channels with their deliveries and attempts,
scheduled reports."""

import json

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html

from alerts.channels import describe_test
from alerts.delivery import send_test
from alerts.models import Channel, Delivery, DeliveryAttempt, Incident, ReportSchedule, ScheduledRun
from alerts.notifications import new_secret
from alerts.owner_channels import MAX_GRACE_MINUTES
from alerts.schedules import SCHEDULE_FIELDS, describe_next_run, plan_next_run, validate_schedule
from alerts.senders import validate_target
from monitoring.models import Owner

# --- Incidents ------------------------------------------------------------------------------


def set_or_unset_filter(title: str, field: str, set_label: str, unset_label: str) -> type[admin.SimpleListFilter]:
    """A list filter on whether ``field`` is set: ``?<title>=yes`` (set) or ``=no`` (unset)."""

    class SetOrUnset(admin.SimpleListFilter):
        parameter_name = title.replace(" ", "_")

        def lookups(self, request, model_admin):
            return [("yes", set_label), ("no", unset_label)]

        def queryset(self, request, queryset):
            if self.value() in ("yes", "no"):
                return queryset.filter(**{f"{field}__isnull": self.value() == "no"})
            return queryset

    SetOrUnset.title = title
    return SetOrUnset


# Open incidents have no end yet.
IncidentOpenFilter = set_or_unset_filter("ended", "ended_at", "ended", "open")


class IncidentOwnerFilter(admin.SimpleListFilter):
    """The store's owner, by slug (``?owner=alpha``), or stores without one."""

    title = "store owner"
    parameter_name = "owner"
    NONE = "none"

    def lookups(self, request, model_admin):
        return [*Owner.objects.order_by("name", "slug").values_list("slug", "name"), (self.NONE, "no owner")]

    def queryset(self, request, queryset):
        if self.value() == self.NONE:
            return queryset.filter(store__owner__isnull=True)
        if self.value():
            return queryset.filter(store__owner__slug=self.value())
        return queryset


@admin.register(Incident)
class IncidentAdmin(admin.ModelAdmin):
    """Read only: incidents are written by the reconciliation with the outages, never by hand."""

    list_display = [
        "store_id_text",
        "started_at",
        "ended_at",
        "ended_by",
        "opened_notified_at",
        "closed_notified_at",
    ]
    list_filter = [IncidentOpenFilter, "ended_by", IncidentOwnerFilter]
    search_fields = ["store__store_id"]
    date_hierarchy = "started_at"
    list_select_related = ["store"]
    ordering = ["-started_at", "-id"]
    show_full_result_count = False

    @admin.display(description="store", ordering="store__store_id")
    def store_id_text(self, incident: Incident) -> str:
        return incident.store.store_id

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


# --- Channels, deliveries and attempts ------------------------------------------------------

# A test waits for each channel's answer (ALERT_SEND_TIMEOUT_SECONDS at most): this many per click.
MAX_TESTS_PER_ACTION = 10


class ChannelAdminForm(forms.ModelForm):
    """The channel's fields checked as the API and the command check them; the secret is
    never shown, only replaced (a new webhook without one gets a generated secret)."""

    new_secret = forms.CharField(
        required=False,
        label="New secret",
        widget=forms.PasswordInput(render_value=False),
        help_text="Webhooks: the key of the bodies' HMAC-SHA256 signature. Empty keeps the current one; a new "
        "webhook left empty gets a generated secret, shown once after saving.",
    )

    class Meta:
        model = Channel
        fields = [
            "owner",
            "kind",
            "name",
            "target",
            "grace_minutes",
            "quiet_stores",
            "notify_incidents",
            "notify_reports",
            "enabled",
        ]
        help_texts = {
            "target": "A webhook's http(s) URL, an email address, or an Apprise URL (slack://…, tgram://…).",
            "grace_minutes": "Announce an incident only once it has lasted this long (0: at once).",
        }

    def clean(self):
        cleaned = super().clean() or {}
        kind, target = cleaned.get("kind"), (cleaned.get("target") or "").strip()
        if kind and target:
            cleaned["target"] = target
            try:
                validate_target(kind, target)
            except ValidationError as error:
                self.add_error("target", error)
        if cleaned.get("new_secret") and kind != Channel.Kind.WEBHOOK:
            self.add_error("new_secret", "Only webhooks have a secret (it signs their bodies).")
        if (cleaned.get("grace_minutes") or 0) > MAX_GRACE_MINUTES:
            self.add_error("grace_minutes", f"At most {MAX_GRACE_MINUTES} minutes (a week).")
        owner, quiet = cleaned.get("owner"), cleaned.get("quiet_stores")
        if owner is not None and quiet is not None:
            foreign = [store.store_id for store in quiet if store.owner_id != owner.pk]
            if foreign:
                self.add_error("quiet_stores", f"Not stores of {owner.slug}: {', '.join(foreign[:10])}.")
        return cleaned


FailingFilter = set_or_unset_filter("failing", "failing_since", "failing", "working")


@admin.register(Channel)
class ChannelAdmin(admin.ModelAdmin):
    form = ChannelAdminForm
    list_display = ["__str__", "owner", "kind", "target_shown", "enabled", "failing_since", "deliveries_link"]
    list_filter = ["kind", "enabled", FailingFilter]
    search_fields = ["name", "owner__slug", "owner__name"]
    list_select_related = ["owner"]
    autocomplete_fields = ["owner", "quiet_stores"]
    readonly_fields = ["secret_shown", "failing_since", "last_error", "created_at", "created_by", "deliveries_link"]
    actions = ["send_test_action"]

    @admin.display(description="target")
    def target_shown(self, channel: Channel) -> str:
        # An Apprise URL often holds the service's token: its scheme only.
        if channel.kind == Channel.Kind.APPRISE:
            return f"{channel.target.partition('://')[0]}://…"
        return channel.target

    @admin.display(description="secret")
    def secret_shown(self, channel: Channel) -> str:
        return f"{channel.secret[:4]}… (set)" if channel.secret else "—"

    @admin.display(description="deliveries")
    def deliveries_link(self, channel: Channel):
        if channel.pk is None:
            return "—"
        url = reverse("admin:alerts_delivery_changelist") + f"?channel__id__exact={channel.pk}"
        return format_html('<a href="{}">deliveries</a>', url)

    def save_model(self, request, obj, form, change):
        generated = ""
        if obj.kind != Channel.Kind.WEBHOOK:
            obj.secret = ""
        elif form.cleaned_data.get("new_secret"):
            obj.secret = form.cleaned_data["new_secret"]
        elif not obj.secret:
            obj.secret = generated = new_secret()
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)
        if generated:
            self.message_user(
                request,
                f"The signing secret of {obj} (shown this once; keep it with the receiver): {generated}",
                messages.WARNING,
            )

    @admin.action(description="Send a test notification")
    def send_test_action(self, request, queryset):
        channels = list(queryset.select_related("owner")[: MAX_TESTS_PER_ACTION + 1])
        if len(channels) > MAX_TESTS_PER_ACTION:
            self.message_user(
                request,
                f"Test at most {MAX_TESTS_PER_ACTION} channels at a time: each waits for its answer.",
                messages.ERROR,
            )
            return
        for channel in channels:
            attempt = send_test(channel)
            self.message_user(
                request, f"{channel}: {describe_test(attempt)}", messages.SUCCESS if attempt.ok else messages.ERROR
            )


class DeliveryAttemptInline(admin.TabularInline):
    """Every try at sending the delivery, as logged; never written by hand."""

    model = DeliveryAttempt
    fields = readonly_fields = ("number", "started_at", "duration_ms", "ok", "status_code", "error", "worker")
    extra = 0
    max_num = 0
    can_delete = False


@admin.register(Delivery)
class DeliveryAdmin(admin.ModelAdmin):
    """Read-only: deliveries are planned and sent by the workers. Not deletable either: a
    deleted delivery would be planned, and sent, again."""

    list_display = ["created_at", "event", "channel", "status", "attempts", "next_attempt_at", "sent_at", "error_shown"]
    list_filter = ["status", "event", "channel"]
    list_select_related = ["channel", "channel__owner"]
    search_fields = ["channel__name", "channel__owner__slug", "incident__store__store_id"]
    date_hierarchy = "created_at"
    fields = readonly_fields = (
        "channel",
        "event",
        "incident",
        "report",
        "status",
        "attempts",
        "next_attempt_at",
        "claimed_by",
        "claimed_at",
        "created_at",
        "sent_at",
        "last_error",
        "payload_shown",
    )
    inlines = [DeliveryAttemptInline]

    @admin.display(description="last error")
    def error_shown(self, delivery: Delivery) -> str:
        return delivery.last_error if len(delivery.last_error) <= 120 else f"{delivery.last_error[:119]}…"

    @admin.display(description="payload (a webhook's body)")
    def payload_shown(self, delivery: Delivery):
        return format_html("<pre>{}</pre>", json.dumps(delivery.payload, indent=2, ensure_ascii=False))

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


# --- Scheduled reports ----------------------------------------------------------------------


class ReportScheduleForm(forms.ModelForm):
    """The schedule's fields checked as save_schedule checks them (alerts.schedules)."""

    class Meta:
        model = ReportSchedule
        fields = ["owner", "frequency", "weekday", "local_time", "time_zone", "enabled"]
        help_texts = {
            "weekday": "Weekly reports: 0 = Monday … 6 = Sunday. Ignored for daily reports.",
            "local_time": "HH:MM on the wall clock of the time zone below.",
            "time_zone": "A tz database zone, e.g. America/Chicago, Europe/Berlin, UTC.",
        }

    def clean(self):
        super().clean()
        cleaned = self.cleaned_data
        if all(name in cleaned for name in ("frequency", "local_time", "time_zone")):
            cleaned.update(
                validate_schedule(
                    frequency=cleaned["frequency"],
                    weekday=cleaned.get("weekday"),
                    local_time=cleaned["local_time"],
                    time_zone=cleaned["time_zone"],
                )
            )
        return cleaned


class ScheduledRunInline(admin.TabularInline):
    """The schedule's runs with their reports: a failed report shows its error here."""

    model = ScheduledRun
    fields = readonly_fields = ("slot_at", "report_link", "report_status", "notified_at")
    extra = 0
    can_delete = False
    ordering = ["-slot_at"]
    max_num = 0  # runs are made by the sweep, never by hand

    @admin.display(description="report")
    def report_link(self, run: ScheduledRun):
        url = reverse("admin:reports_report_change", args=[run.report_id])
        return format_html('<a href="{}">{}</a>', url, run.report.report_id)

    @admin.display(description="status")
    def report_status(self, run: ScheduledRun):
        report = run.report
        return f"{report.status}: {report.error}" if report.error else report.status


@admin.register(ReportSchedule)
class ReportScheduleAdmin(admin.ModelAdmin):
    form = ReportScheduleForm
    list_display = ["owner", "frequency", "weekday", "local_time", "time_zone", "enabled", "next_run", "last_run_at"]
    list_filter = ["enabled", "frequency"]
    search_fields = ["owner__name", "owner__slug"]
    list_select_related = ["owner"]
    readonly_fields = ["next_run", "last_run_at", "last_outcome"]
    inlines = [ScheduledRunInline]

    @admin.display(description="next run", ordering="next_run_at")
    def next_run(self, schedule: ReportSchedule) -> str:
        return describe_next_run(schedule)

    def save_model(self, request, obj, form, change):
        # Any change of when it runs moves the next run to the first slot after now.
        changed = not change or any(name in form.changed_data for name in SCHEDULE_FIELDS)
        plan_next_run(obj, changed=changed, now=timezone.now())
        super().save_model(request, obj, form, change)
