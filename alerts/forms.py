"""The Notifications page's forms: a channel to add, and the owner's scheduled report. The channel
rules are alerts.owner_channels', the same as the API's."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from alerts.models import Channel, ReportSchedule
from alerts.owner_channels import MAX_GRACE_MINUTES, check_target, quiet_stores_of
from alerts.schedules import WEEKDAYS
from monitoring.models import Owner

# Store ids in a text box: separated by commas, spaces or line breaks.
STORE_ID_SEPARATORS = re.compile(r"[\s,]+")


class ChannelForm(forms.Form):
    """A channel of ``owner`` to add."""

    kind = forms.ChoiceField(
        choices=Channel.Kind.choices,
        error_messages={"invalid_choice": "“%(value)s” is not a kind of channel; choose webhook, email or apprise."},
    )
    target = forms.CharField(
        max_length=2000,
        help_text="Webhook: its URL (https://…). Email: an address. Apprise: a service URL (slack://…, tgram://…).",
        error_messages={"required": "Give the channel's target: a URL, an address or an Apprise URL."},
    )
    name = forms.CharField(max_length=100, required=False, help_text="Optional: how the page and the admin call it.")
    grace_minutes = forms.IntegerField(
        required=False,
        min_value=0,
        max_value=MAX_GRACE_MINUTES,
        initial=0,
        label="Grace (minutes)",
        help_text="Tell of an incident only once it has been open this long. Empty: at once.",
    )
    quiet_stores = forms.CharField(
        required=False,
        max_length=100_000,
        widget=forms.Textarea(attrs={"rows": 2}),
        label="Quiet stores",
        help_text="store_ids this channel is not told about, separated by commas, spaces or lines.",
    )
    notify_incidents = forms.BooleanField(required=False, initial=True, label="Incidents")
    notify_reports = forms.BooleanField(required=False, initial=True, label="Scheduled reports")

    def __init__(self, *args: Any, owner: Owner, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.owner = owner

    def clean_grace_minutes(self) -> int:
        return self.cleaned_data.get("grace_minutes") or 0

    def clean_quiet_stores(self) -> list:
        store_ids = [text for text in STORE_ID_SEPARATORS.split(self.cleaned_data.get("quiet_stores") or "") if text]
        return quiet_stores_of(self.owner, store_ids)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if "kind" in cleaned and "target" in cleaned:  # absent when the field itself was invalid
            try:
                check_target(cleaned["kind"], cleaned["target"])
            except ValidationError as error:
                self.add_error("target", error)
        return cleaned


class ReportScheduleForm(forms.Form):
    """The owner's scheduled report: daily or weekly, at a local time in a zone. The rules are
    alerts.schedules' (``save_schedule``), as for the admin and the command."""

    enabled = forms.BooleanField(required=False, initial=True, label="Send scheduled reports")
    frequency = forms.ChoiceField(
        choices=ReportSchedule.Frequency.choices,
        initial=ReportSchedule.Frequency.DAILY,
        error_messages={"invalid_choice": "“%(value)s” is not a frequency: choose daily or weekly."},
    )
    weekday = forms.TypedChoiceField(
        choices=[("", "—"), *enumerate(WEEKDAYS)],
        coerce=int,
        empty_value=None,
        required=False,
        help_text="Weekly reports only.",
        error_messages={"invalid_choice": "“%(value)s” is not a day of the week: choose Monday to Sunday."},
    )
    local_time = forms.TimeField(
        label="Local time",
        initial=dt.time(8, 0),
        input_formats=["%H:%M", "%H:%M:%S"],
        widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
        error_messages={"invalid": "Write the time as HH:MM on a 24-hour clock, e.g. 08:00."},
    )
    time_zone = forms.CharField(
        max_length=64,
        initial="UTC",
        help_text="A zone of the tz database, e.g. America/Chicago.",
    )

    @classmethod
    def for_schedule(cls, schedule: ReportSchedule | None) -> ReportScheduleForm:
        """The form showing the owner's schedule (the defaults, not ticked, when it has none: an
        owner without a schedule must not read that reports are being sent)."""
        if schedule is None:
            return cls(initial={"enabled": False})
        return cls(initial={name: getattr(schedule, name) for name in cls.base_fields})
