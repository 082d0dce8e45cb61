"""factory-boy factories for the alerts' models."""

import datetime as dt

import factory

from alerts.models import Channel, Delivery, Incident, ReportSchedule
from tests.factories import OwnerFactory, StoreFactory


class IncidentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Incident

    store = factory.SubFactory(StoreFactory)
    started_at = dt.datetime(2023, 1, 25, 10, 0, tzinfo=dt.UTC)
    session_start = dt.datetime(2023, 1, 25, 9, 0, tzinfo=dt.UTC)
    session_end = dt.datetime(2023, 1, 25, 21, 0, tzinfo=dt.UTC)


class ChannelFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Channel

    owner = factory.SubFactory(OwnerFactory)
    kind = Channel.Kind.WEBHOOK
    target = "http://127.0.0.1:9/hook"
    secret = "test-secret"


class DeliveryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Delivery

    channel = factory.SubFactory(ChannelFactory)
    event = Delivery.Event.INCIDENT_OPENED
    incident = factory.SubFactory(IncidentFactory)
    payload = factory.LazyFunction(lambda: {"event": "incident.opened"})


class ReportScheduleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ReportSchedule

    owner = factory.SubFactory(OwnerFactory)
