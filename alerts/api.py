"""The incidents and channels API. Views parse and respond: alerts.owner_channels holds the
channel rules (shared with the Notifications page), alerts.delivery sends the tests.

- ``/api/incidents/``: read like the rest of the read API (a token, a session, or nobody while
  ALLOW_ANONYMOUS is on), scoped to the caller's stores (monitoring.access); another owner's
  incident is answered exactly as an unknown one (404).
- ``/api/channels/``: signed in only, whatever ALLOW_ANONYMOUS says (a channel sends data out);
  owners' users manage their owners' channels, staff every owner's.

Every error is JSON: ``{"error": "sentence"}`` (reports.api.errors).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NoReturn

from django.db.models import Q, QuerySet
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import exceptions, serializers, status
from rest_framework.exceptions import NotAuthenticated, NotFound, ValidationError
from rest_framework.generics import GenericAPIView
from rest_framework.parsers import BaseParser
from rest_framework.permissions import BasePermission
from rest_framework.renderers import BaseRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.permissions import NO_TOKEN
from alerts import delivery
from alerts.listing import open_until
from alerts.models import Channel, Incident
from alerts.owner_channels import create_channel, managed_channels, may_manage_channels
from alerts.serializers import (
    OPEN_HELP,
    SINCE_HELP,
    STORE_HELP,
    ChannelSerializer,
    ChannelTestSerializer,
    ChannelWriteSerializer,
    CreatedChannelSerializer,
    IncidentQuerySerializer,
    IncidentSerializer,
)
from alerts.throttles import ChannelTestThrottle, test_rate_sentence
from reports.api.pagination import ReportPagination
from reports.api.parsers import BoundedJSONParser
from reports.api.renderers import JSONRenderer

# Not reports.api's "Error" component: one class per component name (drf-spectacular).
ERROR = inline_serializer("AlertsError", {"error": serializers.CharField()})
INCIDENT_ID = OpenApiParameter(
    "id", {"type": "integer", "minimum": 1}, OpenApiParameter.PATH, description="An incident's id."
)
CHANNEL_ID = OpenApiParameter(
    "id", {"type": "integer", "minimum": 1}, OpenApiParameter.PATH, description="A channel's id."
)
MAX_PAGE_SIZE = 100


class ListPagination(ReportPagination):
    """?page=N as the report list and the import ledger page, and ?page_size=1..100 (default
    PAGE_SIZE); a page_size out of range is a 400, not quietly another size."""

    invalid_page_message = "Page {page_number} does not exist: the list fills fewer pages (start at 1, follow next)."
    page_size_query_param = "page_size"
    max_page_size = MAX_PAGE_SIZE

    def get_page_size(self, request):
        text = request.query_params.get(self.page_size_query_param)
        if text is None:
            return self.page_size
        if not (text.isascii() and text.isdigit() and 1 <= int(text) <= MAX_PAGE_SIZE):
            raise ValidationError(
                {self.page_size_query_param: [f"{text[:40]!r} is not a page size: use a whole number from 1 to 100."]}
            )
        return int(text)

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_size_query_param:
                parameter["schema"].update(minimum=1, maximum=MAX_PAGE_SIZE)
        return parameters


class AlertsAPIView(GenericAPIView):
    """What every endpoint here shares: JSON in and out, no content negotiation errors."""

    parser_classes: Sequence[type[BaseParser]] = (BoundedJSONParser,)
    renderer_classes = [JSONRenderer]

    def perform_content_negotiation(self, request: Request, force: bool = False) -> tuple[BaseRenderer, str]:
        # Never a 404/406 over ?format= or Accept: answers are JSON.
        return super().perform_content_negotiation(request, force=True)


# --- Incidents ------------------------------------------------------------------------------


class IncidentListView(AlertsAPIView):
    serializer_class = IncidentSerializer
    pagination_class = ListPagination

    @extend_schema(
        operation_id="incident_list",
        tags=["Incidents"],
        summary="Your stores' incidents, newest first",
        description="An incident is a store offline inside its business hours (an outage of README rule 10 as "
        "the newest polls show it), kept up to date after every import: open while the store is still inactive, "
        "ended by an active poll or by closing time, or retracted when later polls showed no outage (retracted "
        "ones are not listed). Only the caller's stores' incidents (staff and anonymous callers: every store's). "
        "A filter value that cannot be used is a 400 naming it.",
        parameters=[
            OpenApiParameter(
                "open",
                str,
                enum=["1", "0", "true", "false"],
                description=OPEN_HELP,
            ),
            OpenApiParameter(
                "store",
                {"type": "string", "minLength": 1, "maxLength": 64},
                description=STORE_HELP,
            ),
            OpenApiParameter(
                "since",
                {"type": "string", "format": "date-time"},
                description=SINCE_HELP,
            ),
        ],
        responses={200: IncidentSerializer(many=True), 400: ERROR, 404: ERROR},
    )
    def get(self, request: Request) -> Response:
        query = IncidentQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        incidents = self.filter_incidents(self.get_queryset(), query.validated_data)
        page = self.paginate_queryset(incidents)
        body = IncidentSerializer(page, many=True, context=self.incident_context(request)).data
        return self.get_paginated_response(body)

    def get_queryset(self) -> QuerySet[Incident]:
        # The caller's stores only (monitoring.access), retracted ones left out.
        return (
            Incident.objects.current()
            .visible_to(self.request.user)
            .select_related("store", "store__owner")
            .order_by("-started_at", "-id")
        )

    @staticmethod
    def filter_incidents(incidents: QuerySet[Incident], filters: dict) -> QuerySet[Incident]:
        if "open" in filters:
            incidents = incidents.filter(ended_at__isnull=filters["open"])
        if "store" in filters:
            store_id = filters["store"]
            incidents = incidents.none() if store_id is None else incidents.filter(store__store_id=store_id)
        if "since" in filters:
            incidents = incidents.filter(Q(ended_at__isnull=True) | Q(ended_at__gte=filters["since"]))
        return incidents

    @staticmethod
    def incident_context(request: Request) -> dict:
        return {"request": request, "as_of": open_until()}


class IncidentDetailView(AlertsAPIView):
    serializer_class = IncidentSerializer

    @extend_schema(
        operation_id="incident_detail",
        tags=["Incidents"],
        summary="One incident",
        description="Another owner's incident is a 404, exactly as an unknown id.",
        parameters=[INCIDENT_ID],
        responses={200: IncidentSerializer, 404: ERROR},
    )
    def get(self, request: Request, pk: int) -> Response:
        incident = (
            Incident.objects.current()
            .visible_to(request.user)
            .select_related("store", "store__owner")
            .filter(pk=pk)
            .first()
        )
        if incident is None:
            raise NotFound(f"No incident has the id {pk}.")
        return Response(IncidentSerializer(incident, context=IncidentListView.incident_context(request)).data)


# --- Channels -------------------------------------------------------------------------------


class MayManageChannels(BasePermission):
    """Signed in (token or session), whatever ALLOW_ANONYMOUS says: anonymous callers get a 401."""

    def has_permission(self, request, view) -> bool:
        if not may_manage_channels(request.user):
            raise NotAuthenticated(NO_TOKEN)
        return True


class ChannelAPIView(AlertsAPIView):
    permission_classes = [MayManageChannels]
    serializer_class = ChannelSerializer

    def get_queryset(self) -> QuerySet[Channel]:
        return managed_channels(self.request.user).prefetch_related("quiet_stores").order_by("owner__slug", "id")

    def get_channel(self, pk: int) -> Channel:
        """The channel, when the caller manages it; another owner's reads exactly as an unknown one."""
        channel = self.get_queryset().filter(pk=pk).first()
        if channel is None:
            raise NotFound(f"No channel has the id {pk}.")
        return channel


CHANNEL_BODY_NOTE = (
    "kind is webhook (a JSON POST signed with HMAC-SHA256 of the body, header X-Storemonitor-Signature: "
    "sha256=<hex>), email or apprise (an Apprise URL: Slack, Teams, Telegram, …); the target is checked for its "
    "kind. quiet_stores are store_ids of the channel's owner. Any other field is a 400."
)


class ChannelListView(ChannelAPIView):
    pagination_class = ListPagination

    @extend_schema(
        operation_id="channel_list",
        tags=["Channels"],
        summary="Your owners' notification channels",
        description="Staff: every owner's. Secrets are masked (shown whole only when created).",
        responses={200: ChannelSerializer(many=True), 400: ERROR, 404: ERROR},
    )
    def get(self, request: Request) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(ChannelSerializer(page, many=True, context={"request": request}).data)

    @extend_schema(
        operation_id="channel_create",
        tags=["Channels"],
        summary="Add a notification channel",
        description="For the owner named by owner (its slug): required from staff and from a user of several "
        "owners; another owner's slug is refused like an unknown one (400); a user of no owner is refused (403). "
        + CHANNEL_BODY_NOTE
        + " A webhook without a secret gets a random one. The answer holds the secret whole: it is the only one "
        "that does.",
        request=ChannelWriteSerializer,
        responses={201: CreatedChannelSerializer, 400: ERROR, 403: ERROR, 413: ERROR, 415: ERROR},
    )
    def post(self, request: Request) -> Response:
        body = ChannelWriteSerializer(data=request.data, context={"user": request.user})
        body.is_valid(raise_exception=True)
        data = dict(body.validated_data)
        owner = data.pop("owner")
        created = create_channel(owner, created_by=request.user, **data)
        channel = self.get_channel(created.channel.pk)
        answer = CreatedChannelSerializer(channel, context={"request": request, "secret": created.secret}).data
        return Response(answer, status=status.HTTP_201_CREATED, headers={"Location": answer["url"]})


class ChannelDetailView(ChannelAPIView):
    @extend_schema(
        operation_id="channel_detail",
        tags=["Channels"],
        summary="One notification channel",
        description="Another owner's channel is a 404, exactly as an unknown id. The secret is masked.",
        parameters=[CHANNEL_ID],
        responses={200: ChannelSerializer, 404: ERROR},
    )
    def get(self, request: Request, pk: int) -> Response:
        return Response(ChannelSerializer(self.get_channel(pk), context={"request": request}).data)

    @extend_schema(
        operation_id="channel_update",
        tags=["Channels"],
        summary="Change a notification channel",
        description="Only the fields given change (quiet_stores: the whole list). "
        + CHANNEL_BODY_NOTE
        + " A new secret replaces the old one at once (receivers must switch too).",
        parameters=[CHANNEL_ID],
        request=ChannelWriteSerializer,
        responses={200: ChannelSerializer, 400: ERROR, 404: ERROR, 413: ERROR, 415: ERROR},
    )
    def patch(self, request: Request, pk: int) -> Response:
        channel = self.get_channel(pk)
        body = ChannelWriteSerializer(data=request.data, partial=True, context={"channel": channel})
        body.is_valid(raise_exception=True)
        data = dict(body.validated_data)
        data.pop("owner", None)
        quiet = data.pop("quiet_stores", None)
        for name, value in data.items():
            setattr(channel, name, value)
        if channel.kind != Channel.Kind.WEBHOOK:
            channel.secret = ""
        channel.save()
        if quiet is not None:
            channel.quiet_stores.set(quiet)
        return Response(ChannelSerializer(self.get_channel(pk), context={"request": request}).data)

    @extend_schema(
        operation_id="channel_delete",
        tags=["Channels"],
        summary="Delete a notification channel",
        description="With its deliveries and their attempts.",
        parameters=[CHANNEL_ID],
        responses={204: OpenApiResponse(description="Deleted."), 404: ERROR},
    )
    def delete(self, request: Request, pk: int) -> Response:
        self.get_channel(pk).delete()
        return Response(status=status.HTTP_204_NO_CONTENT)


class ChannelTestView(ChannelAPIView):
    throttle_classes = [ChannelTestThrottle]

    def throttled(self, request: Request, wait: float | None) -> NoReturn:
        raise exceptions.Throttled(wait, detail=test_rate_sentence(wait))

    @extend_schema(
        operation_id="channel_test",
        tags=["Channels"],
        summary="Send a test notification now",
        description="Sends a test event to the channel and waits for the answer (at most "
        "ALERT_SEND_TIMEOUT_SECONDS). A failed delivery is still a 200: the test ran, and ok, status_code and "
        "error say what came back. Disabled channels are tested too.",
        parameters=[CHANNEL_ID],
        request=None,
        responses={200: ChannelTestSerializer, 404: ERROR, 429: ERROR},
    )
    def post(self, request: Request, pk: int) -> Response:
        attempt = delivery.send_test(self.get_channel(pk))
        return Response(ChannelTestSerializer(attempt).data)
