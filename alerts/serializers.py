"""What the incidents and channels API reads and writes."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import ProhibitNullCharactersValidator
from django.urls import reverse
from drf_spectacular.extensions import OpenApiSerializerExtension
from rest_framework import serializers
from rest_framework.exceptions import PermissionDenied
from rest_framework.settings import api_settings

from alerts.listing import duration_minutes, store_page_path
from alerts.models import Channel, Incident
from alerts.owner_channels import (
    MAX_GRACE_MINUTES,
    NoOwnerToManage,
    check_target,
    masked_secret,
    owner_to_manage,
    quiet_stores_of,
)
from monitoring.access import OwnerChoiceError
from monitoring.ingestion.values import STORE_ID_MAX_LENGTH, is_store_id
from monitoring.models import Owner


def _absolute(request, path: str) -> str:
    return request.build_absolute_uri(path) if request is not None else path


def _listed(names) -> str:
    names = list(names)
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


# --- Incidents ------------------------------------------------------------------------------


class IncidentSerializer(serializers.ModelSerializer):
    """An incident: a store offline inside one business session (open while it still is)."""

    # context["as_of"]: the time open incidents last until (alerts.listing.open_until).

    store_id = serializers.CharField(source="store.store_id", read_only=True)
    owner = serializers.CharField(
        source="store.owner.slug", read_only=True, allow_null=True, help_text="The store's owner; null: none."
    )
    ended_by = serializers.SerializerMethodField(
        help_text="How it ended: active_poll, session_closed or retracted; null while open."
    )
    open = serializers.SerializerMethodField(help_text="Still offline at the newest poll.")
    duration_minutes = serializers.SerializerMethodField(
        help_text="end - start in minutes, 2 decimals; while open, until the newest reconciled poll time (as_of)."
    )
    url = serializers.SerializerMethodField(help_text="This incident in the API.")
    store_url = serializers.SerializerMethodField(
        help_text="The store's page (its week and its incidents); null for a store_id no URL can hold (a slash)."
    )

    class Meta:
        model = Incident
        fields = [
            "id",
            "url",
            "store_id",
            "owner",
            "started_at",
            "ended_at",
            "ended_by",
            "open",
            "duration_minutes",
            "session_start",
            "session_end",
            "opened_by_poll_at",
            "opened_notified_at",
            "closed_notified_at",
            "store_url",
        ]
        read_only_fields = fields

    def get_ended_by(self, incident: Incident) -> str | None:
        return incident.ended_by or None

    def get_open(self, incident: Incident) -> bool:
        return incident.ended_at is None

    def get_duration_minutes(self, incident: Incident) -> float:
        return duration_minutes(incident, self.context["as_of"])

    def get_url(self, incident: Incident) -> str:
        return _absolute(self.context.get("request"), reverse("incident-detail", args=[incident.pk]))

    def get_store_url(self, incident: Incident) -> str | None:
        path = store_page_path(incident.store.store_id)
        return _absolute(self.context.get("request"), path) if path else None


class StoreIdFilterField(serializers.CharField):
    """Any text: an id no store can have (a NUL byte, which CharField would refuse with a 400) lists
    no incidents, as an unknown id does (validate_store)."""

    def __init__(self, **kwargs: Any):
        super().__init__(**kwargs)
        self.validators = [v for v in self.validators if not isinstance(v, ProhibitNullCharactersValidator)]


OPEN_HELP = "1 (or true): open incidents only; 0 (or false): ended ones only."
STORE_HELP = "Only this store's incidents (a store_id); another owner's store lists none, like an unknown one."
SINCE_HELP = (
    "Only incidents offline at some time since then: ended at or after it, or still open. ISO 8601, UTC when no "
    "offset is given."
)
OPEN_VALUES = {"1": True, "true": True, "0": False, "false": False}


class IncidentQuerySerializer(serializers.Serializer):
    """The filters of GET /api/incidents/ (page and page_size are the pagination's: alerts.api)."""

    open = serializers.CharField(
        required=False,
        allow_blank=True,  # "open=" is refused by validate_open, not taken as no filter
        help_text=OPEN_HELP,
    )
    store = StoreIdFilterField(
        required=False,
        allow_blank=True,
        trim_whitespace=False,
        help_text=STORE_HELP,
    )
    since = serializers.CharField(
        required=False,
        allow_blank=True,  # "since=" is refused by validate_since, not taken as no filter
        help_text=SINCE_HELP,
    )

    def validate_open(self, value: str) -> bool:
        try:
            return OPEN_VALUES[value.lower()]
        except KeyError:
            raise serializers.ValidationError(f"{value[:40]!r} is not 1, 0, true or false.") from None

    def validate_store(self, value: str) -> str | None:
        if not value:
            raise serializers.ValidationError("Give a store_id, or leave the parameter out for every store.")
        if len(value) > STORE_ID_MAX_LENGTH:
            raise serializers.ValidationError(f"A store_id has at most {STORE_ID_MAX_LENGTH} characters.")
        # An id no store can have (e.g. a NUL byte, which PostgreSQL refuses) matches nothing.
        return value if is_store_id(value) else None

    def validate_since(self, value: str) -> dt.datetime:
        text = value.strip().removesuffix(" UTC").replace("Z", "+00:00").replace("z", "+00:00")
        try:
            moment = dt.datetime.fromisoformat(text)
        except ValueError:
            raise serializers.ValidationError(
                f"{value[:40]!r} is not a time: write it like 2023-01-25T18:13:22Z (UTC when no offset is given)."
            ) from None
        if moment.tzinfo is None:
            return moment.replace(tzinfo=dt.UTC)
        try:
            return moment.astimezone(dt.UTC)
        except OverflowError:  # within a day of the calendar's ends: the end itself, in UTC
            return (dt.datetime.min if moment.year == dt.MINYEAR else dt.datetime.max).replace(tzinfo=dt.UTC)


# --- Channels -------------------------------------------------------------------------------

KINDS = list(Channel.Kind.values)
KIND_SENTENCE = f"“{{input}}” is not a kind of channel; choose {', '.join(KINDS[:-1])} or {KINDS[-1]}."


class ChannelSerializer(serializers.ModelSerializer):
    """A notification channel of an owner, as GET answers it: the secret masked."""

    owner = serializers.CharField(source="owner.slug", read_only=True, help_text="The owner's slug.")
    secret = serializers.SerializerMethodField(
        help_text="Webhooks: the signing secret's first characters (it is shown whole only when set); null otherwise."
    )
    quiet_stores = serializers.SerializerMethodField(help_text="The store_ids this channel is not told about.")
    url = serializers.SerializerMethodField(help_text="This channel in the API.")
    test_url = serializers.SerializerMethodField(help_text="POST here to send a test notification.")

    class Meta:
        model = Channel
        fields = [
            "id",
            "url",
            "owner",
            "kind",
            "name",
            "target",
            "secret",
            "grace_minutes",
            "quiet_stores",
            "notify_incidents",
            "notify_reports",
            "enabled",
            "failing_since",
            "last_error",
            "created_at",
            "test_url",
        ]
        read_only_fields = fields

    def get_secret(self, channel: Channel) -> str | None:
        return masked_secret(channel.secret)

    def get_quiet_stores(self, channel: Channel) -> list[str]:
        return sorted(store.store_id for store in channel.quiet_stores.all())

    def get_url(self, channel: Channel) -> str:
        return _absolute(self.context.get("request"), reverse("channel-detail", args=[channel.pk]))

    def get_test_url(self, channel: Channel) -> str:
        return _absolute(self.context.get("request"), reverse("channel-test", args=[channel.pk]))


class CreatedChannelSerializer(ChannelSerializer):
    """A channel just created: its secret whole, this once."""

    # context["secret"]: the secret as set (alerts.owner_channels.NewChannel).

    secret = serializers.SerializerMethodField(
        help_text="Webhooks: the whole signing secret, shown only in this answer: keep it to check signatures."
    )

    def get_secret(self, channel: Channel) -> str | None:
        return self.context.get("secret") or None


class ChannelWriteSerializer(serializers.Serializer):
    """A channel to create, or the fields of one to change."""

    # context["user"]: the caller, who chooses the owner (POST); context["channel"]: the channel
    # changed (PATCH).

    owner = serializers.CharField(
        required=False,
        max_length=100,
        help_text="POST: the owner's slug; required from staff and from a user of several owners. "
        "PATCH: refused (a channel stays with its owner).",
    )
    kind = serializers.ChoiceField(
        choices=Channel.Kind.choices,
        help_text="webhook (signed JSON POST), email (an address) or apprise (an Apprise URL).",
        error_messages={"invalid_choice": KIND_SENTENCE},
    )
    target = serializers.CharField(
        max_length=2000, help_text="The webhook's URL, the email address or the Apprise URL (by kind)."
    )
    name = serializers.CharField(max_length=100, required=False, allow_blank=True)
    secret = serializers.CharField(
        max_length=200,
        required=False,
        allow_blank=True,
        write_only=True,
        help_text="Webhooks only: the HMAC-SHA256 key; a new random one when left out (POST).",
    )
    grace_minutes = serializers.IntegerField(
        required=False,
        min_value=0,
        max_value=MAX_GRACE_MINUTES,
        help_text="Tell of an incident only once it has been open this long (default 0).",
    )
    quiet_stores = serializers.ListField(
        child=serializers.CharField(max_length=STORE_ID_MAX_LENGTH),
        required=False,
        max_length=10_000,
        help_text="store_ids of the owner this channel is not told about (replaces the list on PATCH).",
    )
    notify_incidents = serializers.BooleanField(required=False)
    notify_reports = serializers.BooleanField(required=False)
    enabled = serializers.BooleanField(required=False)

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        if hasattr(data, "keys"):
            unknown = sorted(str(name)[:40] for name in data if name not in self.fields)
            if unknown:
                sentence = f"Unknown field(s): {', '.join(unknown)}. The body takes only {_listed(self.fields)}."
                raise serializers.ValidationError({api_settings.NON_FIELD_ERRORS_KEY: [sentence]})
        return super().to_internal_value(data)

    def validate_owner(self, value: str) -> str:
        if self.partial:
            raise serializers.ValidationError("A channel stays with its owner: create one for the other owner.")
        return value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        channel: Channel | None = self.context.get("channel")
        kind: str = attrs.get("kind") or (channel.kind if channel else "")
        if "kind" in attrs or "target" in attrs:
            target = attrs.get("target", channel.target if channel else "")
            if "kind" in attrs and "target" not in attrs and channel is not None and attrs["kind"] != channel.kind:
                raise serializers.ValidationError({"target": ["Give the target of the new kind with it."]})
            try:
                check_target(kind, target)
            except DjangoValidationError as error:
                raise serializers.ValidationError({"target": list(error.messages)}) from None
        if attrs.get("secret") and kind != Channel.Kind.WEBHOOK:
            raise serializers.ValidationError({"secret": ["Only webhooks have a secret."]})
        owner = channel.owner if channel is not None else self._owner(attrs)
        if "quiet_stores" in attrs:
            try:
                attrs["quiet_stores"] = quiet_stores_of(owner, attrs["quiet_stores"])
            except DjangoValidationError as error:
                raise serializers.ValidationError({"quiet_stores": list(error.messages)}) from None
        return attrs

    def _owner(self, attrs: dict[str, Any]) -> Owner:
        """The new channel's owner (``context["user"]`` chooses, alerts.owner_channels), put in
        ``attrs["owner"]``: 403 for a user of no owner, 400 for a choice it can correct."""
        try:
            owner = owner_to_manage(self.context["user"], attrs.get("owner"))
        except NoOwnerToManage as error:
            raise PermissionDenied(str(error)) from None
        except OwnerChoiceError as error:
            raise serializers.ValidationError({"owner": [str(error)]}) from None
        attrs["owner"] = owner
        return owner


class ChannelWriteSchema(OpenApiSerializerExtension):
    """The schema of the channel body says what ``to_internal_value`` enforces: no other fields."""

    target_class = ChannelWriteSerializer

    def map_serializer(self, auto_schema, direction):
        schema = auto_schema._map_basic_serializer(self.target, direction)
        return {**schema, "additionalProperties": False}


class ChannelTestSerializer(serializers.Serializer):
    """What a test notification got back."""

    ok = serializers.BooleanField(help_text="Delivered (a 2xx answer, the email accepted, Apprise's success).")
    status_code = serializers.IntegerField(allow_null=True, help_text="Webhooks: the HTTP status; null otherwise.")
    error = serializers.CharField(allow_blank=True, help_text="Why it failed; empty when ok.")
    duration_ms = serializers.IntegerField(help_text="How long the attempt took.")
