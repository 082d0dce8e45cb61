"""A stand-in for alerts.delivery's target check and test sending, for the API and page tests of
channels: they test what the views do with the answers, not the sending (tests of
alerts.delivery do that)."""

from dataclasses import dataclass, field

import pytest
from django.core.exceptions import ValidationError

from alerts import delivery
from alerts.models import Channel, DeliveryAttempt


def validate_target(kind: str, target: str) -> None:
    """A webhook is an http(s) URL, an email address holds an @, an Apprise URL a scheme."""
    if kind == Channel.Kind.WEBHOOK and not target.startswith(("http://", "https://")):
        raise ValidationError(f"“{target}” is not a webhook URL: write it like https://example.com/hook.")
    if kind == Channel.Kind.EMAIL and "@" not in target:
        raise ValidationError(f"“{target}” is not an email address.")
    if kind == Channel.Kind.APPRISE and "://" not in target:
        raise ValidationError(f"“{target}” is not an Apprise URL: write it like slack://token/channel.")


@dataclass
class FakeSender:
    """send_test's stand-in: answers ``attempt`` and remembers which channels it was asked to test."""

    attempt: DeliveryAttempt = field(
        default_factory=lambda: DeliveryAttempt(number=1, ok=True, status_code=200, error="", duration_ms=12)
    )
    tested: list[Channel] = field(default_factory=list)

    def __call__(self, channel: Channel) -> DeliveryAttempt:
        self.tested.append(channel)
        return self.attempt


@pytest.fixture
def fake_delivery(monkeypatch) -> FakeSender:
    sender = FakeSender()
    monkeypatch.setattr(delivery, "validate_target", validate_target, raising=False)
    monkeypatch.setattr(delivery, "send_test", sender)
    return sender
