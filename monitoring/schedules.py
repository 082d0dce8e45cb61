"""Keeping the service's django-q2 schedules: ``post_migrate`` receivers of both apps call here."""

from django.utils import timezone
from django_q.models import Schedule


def keep_schedule(using: str, name: str, *, enabled: bool = True, **fields: object) -> None:
    """Create the named schedule (first run now) or repair its fields; delete it when not
    ``enabled`` (its setting turned it off). next_run is set only when it is created, so a later
    migrate keeps a daily schedule's time of day; every schedule repeats forever on any cluster."""
    schedules = Schedule.objects.using(using)
    if not enabled:
        schedules.filter(name=name).delete()
        return
    defaults = {**fields, "repeats": -1, "cluster": None}
    schedules.update_or_create(name=name, defaults=defaults, create_defaults={**defaults, "next_run": timezone.now()})
