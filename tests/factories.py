"""factory-boy factories for the models of both apps."""

import datetime as dt

import factory
from django.contrib.auth import get_user_model

from monitoring.models import BusinessHours, Owner, StatusPoll, Store, Timezone


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda user: f"{user.username}@example.com")
    password = factory.django.Password("a long enough test password")


class OwnerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Owner
        django_get_or_create = ("slug",)
        skip_postgeneration_save = True  # the hook adds users; the owner itself is unchanged

    name = factory.Sequence(lambda n: f"Owner {n}")
    slug = factory.Sequence(lambda n: f"owner-{n}")

    @factory.post_generation
    def users(self, create, extracted, **kwargs):
        """``OwnerFactory(users=[user, …])`` adds those users to the owner."""
        if create and extracted:
            self.users.add(*extracted)


class StoreFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Store
        django_get_or_create = ("store_id",)

    store_id = factory.Sequence(lambda n: f"{1000000000000000000 + n}")


class StatusPollFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = StatusPoll

    store = factory.SubFactory(StoreFactory)
    timestamp_utc = factory.Sequence(lambda n: dt.datetime(2023, 1, 18, tzinfo=dt.UTC) + dt.timedelta(hours=n))
    status = StatusPoll.Status.ACTIVE


class BusinessHoursFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = BusinessHours

    store = factory.SubFactory(StoreFactory)
    day_of_week = 0
    start_time_local = dt.time(9, 0)
    end_time_local = dt.time(17, 0)


class TimezoneFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Timezone

    store = factory.SubFactory(StoreFactory)
    timezone_str = "America/New_York"
