"""Sending deliveries. (Interface placeholder, implemented by the channels work.)

- ``queue_delivery(delivery_pk, at=None)``: hand a delivery to the job queue (now, or at ``at``).
- ``deliver(delivery_pk) -> str | None``: claim it with a conditional update and send it;
  None when another worker has it or it is done.
- ``send_test(channel) -> DeliveryAttempt``: a test delivery sent at once; its attempt.
- ``send_due_deliveries(now=None) -> str``: due retries and deliveries whose worker died.
"""

from __future__ import annotations

import datetime as dt


def queue_delivery(delivery_pk: int, at: dt.datetime | None = None) -> None:
    raise NotImplementedError


def deliver(delivery_pk: int) -> str | None:
    raise NotImplementedError


def send_test(channel):
    raise NotImplementedError


def send_due_deliveries(now: dt.datetime | None = None) -> str:
    raise NotImplementedError
