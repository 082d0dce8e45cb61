"""The Notifications page: an owner's channels (add, test, enable or disable, delete), their recent
deliveries, and the owner's scheduled report. For owners' users and staff (who choose the owner).
Views parse and render; the channel rules are alerts.owner_channels', as in the API."""

from __future__ import annotations

import re
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.http import require_GET, require_POST

from alerts import delivery, schedules
from alerts.forms import ChannelForm, ReportScheduleForm
from alerts.models import Channel, Delivery, ReportSchedule
from alerts.owner_channels import NewChannel, create_channel, managed_channels, managed_owners, masked_secret
from alerts.throttles import ChannelTestThrottle, test_rate_sentence
from monitoring.models import Owner

RECENT_DELIVERIES = 20
SLUG = re.compile(r"[-a-zA-Z0-9_]{1,100}")

NO_OWNER = (
    "Your account belongs to no owner, so it has no notifications to set up; ask an administrator to add it to "
    "one (manage.py add_owner_user OWNER_SLUG USERNAME)."
)


class OwnerNotFound(Exception):
    """The owner asked for is not one the user manages (or does not exist: the same answer)."""


def _page_owner(request: HttpRequest, slug: str | None) -> Owner | None:
    """The owner the page is about: the one named (raises OwnerNotFound when the user manages no
    such owner), else the first of the user's by name; None when the user manages none."""
    owners = managed_owners(request.user).order_by("name", "slug")
    if slug:
        # Not a slug (e.g. a NUL byte, which PostgreSQL refuses in a query): no owner has it, unasked.
        owner = owners.filter(slug=slug).first() if SLUG.fullmatch(slug) else None
        if owner is None:
            raise OwnerNotFound(f"No owner has the slug {slug[:100]!r}.")
        return owner
    return owners.first()


def _page_url(owner: Owner, anchor: str = "") -> str:
    return f"{reverse('notifications')}?{urlencode({'owner': owner.slug})}{anchor}"


def _render(
    request: HttpRequest,
    owner: Owner | None,
    *,
    channel_form: ChannelForm | None = None,
    schedule_form: ReportScheduleForm | None = None,
    created: NewChannel | None = None,
    error: str = "",
    status: int = 200,
) -> HttpResponse:
    owners = list(managed_owners(request.user).order_by("name", "slug"))
    context: dict[str, Any] = {"owner": owner, "owners": owners, "error": error, "created": created}
    if owner is not None:
        schedule = ReportSchedule.objects.filter(owner=owner).first()
        channels = list(
            managed_channels(request.user).filter(owner=owner).prefetch_related("quiet_stores").order_by("id")
        )
        context.update(
            channels=[
                {
                    "channel": channel,
                    "quiet_store_ids": sorted(store.store_id for store in channel.quiet_stores.all()),
                }
                for channel in channels
            ],
            channel_form=channel_form or ChannelForm(owner=owner),
            schedule=schedule,
            schedule_form=schedule_form or ReportScheduleForm.for_schedule(schedule),
            next_run=schedules.describe_next_run(schedule) if schedule else "",
            deliveries=Delivery.objects.filter(channel__owner=owner)
            .select_related("channel", "incident__store", "report")
            .order_by("-created_at", "-id")[:RECENT_DELIVERIES],
            recent_deliveries=RECENT_DELIVERIES,
            created_secret_hint=masked_secret(created.secret) if created else None,
        )
    return render(request, "alerts/notifications.html", context, status=status)


@login_required
@require_GET
def notifications(request: HttpRequest) -> HttpResponse:
    try:
        owner = _page_owner(request, request.GET.get("owner"))
    except OwnerNotFound as error:
        return _render(request, None, error=str(error), status=404)
    if owner is None:
        return _render(request, None, error=NO_OWNER, status=403)
    return _render(request, owner)


def _posted_owner(request: HttpRequest) -> Owner:
    """The owner a form on the page was for (its hidden ``owner``); 404 for one the user does not manage."""
    try:
        owner = _page_owner(request, request.POST.get("owner") or "")
    except OwnerNotFound as error:
        raise Http404(str(error)) from None
    if owner is None or not request.POST.get("owner"):
        raise Http404("The form names no owner: reload the Notifications page and send it again.")
    return owner


@login_required
@require_POST
def add_channel(request: HttpRequest) -> HttpResponse:
    """Add a channel; the answer shows a new webhook's secret, once (like a new API token)."""
    owner = _posted_owner(request)
    form = ChannelForm(request.POST, owner=owner)
    if not form.is_valid():
        return _render(request, owner, channel_form=form, status=400)
    data = form.cleaned_data
    created = create_channel(
        owner,
        kind=data["kind"],
        target=data["target"],
        name=data["name"],
        grace_minutes=data["grace_minutes"],
        quiet_stores=data["quiet_stores"],
        notify_incidents=data["notify_incidents"],
        notify_reports=data["notify_reports"],
        created_by=request.user,
    )
    messages.success(request, f"Added the channel “{created.channel}”.")
    return _render(request, owner, created=created)


def _managed_channel(request: HttpRequest, pk: int) -> Channel:
    channel = managed_channels(request.user).filter(pk=pk).first()
    if channel is None:
        raise Http404(f"No channel has the id {pk}.")
    return channel


@login_required
@require_POST
def test_channel(request: HttpRequest, pk: int) -> HttpResponse:
    """Send a test notification now; its result is the page's message."""
    channel = _managed_channel(request, pk)
    throttle = ChannelTestThrottle()
    if not throttle.allow_request(request, None):  # type: ignore[arg-type]  # no view: a plain page
        messages.error(request, test_rate_sentence(throttle.wait()))
        return redirect(_page_url(channel.owner, f"#channel-{channel.pk}"))
    attempt = delivery.send_test(channel)
    took = f"in {attempt.duration_ms} ms"
    if attempt.ok:
        answered = f" (HTTP {attempt.status_code})" if attempt.status_code else ""
        messages.success(request, f"Test sent to “{channel}”{answered} {took}.")
    else:
        answered = f"HTTP {attempt.status_code}: " if attempt.status_code else ""
        messages.error(request, f"The test to “{channel}” failed {took}: {answered}{attempt.error or 'no answer'}")
    return redirect(_page_url(channel.owner, f"#channel-{channel.pk}"))


@login_required
@require_POST
def toggle_channel(request: HttpRequest, pk: int) -> HttpResponse:
    """Enable a disabled channel, disable an enabled one."""
    channel = _managed_channel(request, pk)
    channel.enabled = not channel.enabled
    channel.save(update_fields=["enabled"])
    state = "enabled" if channel.enabled else "disabled: it is sent nothing until enabled again"
    messages.success(request, f"The channel “{channel}” is {state}.")
    return redirect(_page_url(channel.owner, f"#channel-{channel.pk}"))


@login_required
@require_POST
def delete_channel(request: HttpRequest, pk: int) -> HttpResponse:
    channel = _managed_channel(request, pk)
    owner, name = channel.owner, str(channel)
    channel.delete()
    messages.success(request, f"Deleted the channel “{name}” and its deliveries.")
    return redirect(_page_url(owner, "#channels"))


@login_required
@require_POST
def save_schedule(request: HttpRequest) -> HttpResponse:
    """Save the owner's scheduled report (alerts.schedules.save_schedule: a changed schedule's next
    run is its first slot after now)."""
    owner = _posted_owner(request)
    form = ReportScheduleForm(request.POST)
    schedule = None
    if form.is_valid():
        try:
            schedule = schedules.save_schedule(owner, **form.cleaned_data)
        except ValidationError as error:
            by_field = error.message_dict if hasattr(error, "error_dict") else {None: error.messages}
            for field, field_errors in by_field.items():
                form.add_error(field if field in form.fields else None, field_errors)
    if schedule is None:
        return _render(request, owner, schedule_form=form, status=400)
    if schedule.enabled:
        messages.success(request, f"Scheduled report saved: the next one is {schedules.describe_next_run(schedule)}.")
    else:
        messages.success(request, "Scheduled report saved, switched off: none will be sent.")
    return redirect(_page_url(owner, "#schedule"))
