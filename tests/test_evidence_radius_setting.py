"""EVIDENCE_RADIUS_MINUTES is read from the environment and checked when the service starts."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

PROJECT_DIR = Path(__file__).resolve().parents[1]


def settings_with(value: str | None) -> subprocess.CompletedProcess:
    environment = {**os.environ, "DJANGO_SETTINGS_MODULE": "storemonitor.settings"}
    environment.pop("EVIDENCE_RADIUS_MINUTES", None)
    if value is not None:
        environment["EVIDENCE_RADIUS_MINUTES"] = value
    return subprocess.run(
        [sys.executable, "-c", "from django.conf import settings; print(settings.EVIDENCE_RADIUS_MINUTES)"],
        cwd=PROJECT_DIR,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(("value", "minutes"), [(None, "90"), ("30", "30"), ("10080", "10080")])
def test_the_radius_defaults_to_90_minutes_and_can_be_set(value, minutes):
    result = settings_with(value)
    assert (result.returncode, result.stdout.strip()) == (0, minutes), result.stderr


@pytest.mark.parametrize(
    ("value", "sentence"),
    [
        ("0", "EVIDENCE_RADIUS_MINUTES=0 is below the minimum 1."),
        ("10081", "EVIDENCE_RADIUS_MINUTES=10081 is above the maximum 10080 (a week)"),
        ("an hour", "EVIDENCE_RADIUS_MINUTES='an hour' is not an integer."),
    ],
)
def test_a_radius_out_of_range_stops_the_service_with_a_sentence(value, sentence):
    result = settings_with(value)
    assert result.returncode != 0
    assert sentence in result.stderr
