"""Reports over the real public feeds (skipped when ../shared/data is absent)."""

import numpy as np
import pytest

from monitoring.ingestion import load_feeds
from monitoring.models import StatusPoll
from reports.generation import compute_report, lookback

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("version", ["loop-2023", "loop-2024"])
@pytest.mark.parametrize("method", ["last_known", "nearest"])
def test_a_report_of_a_published_version_of_the_feeds_keeps_the_rules(shared_data_dir, version, method):
    directory = shared_data_dir / version
    load_feeds(
        polls=directory / "store_status.csv.gz",
        hours=directory / "menu_hours.csv.gz",
        timezones=directory / "timezones.csv.gz",
    )
    data = compute_report(method=method)
    newest = StatusPoll.objects.latest("timestamp_utc").timestamp_utc
    assert data.as_of == newest
    # Rule 3: every store with a poll in the lookback, once, sorted as text.
    recent = StatusPoll.objects.filter(timestamp_utc__gte=newest - lookback())
    expected = sorted(set(recent.values_list("store__store_id", flat=True)))
    figures = data.figures
    assert figures.store_ids == expected
    # Rule 8: uptime + downtime = business time; hour <= day <= week; never more than the window.
    for window, length in (("hour", 3_600), ("day", 86_400), ("week", 7 * 86_400)):
        np.testing.assert_array_equal(
            figures.uptime_us[window] + figures.downtime_us[window], figures.business_us[window]
        )
        assert (figures.business_us[window] <= length * 1_000_000).all()
    for which in (figures.uptime_us, figures.downtime_us):
        assert (which["hour"] <= which["day"]).all()
        assert (which["day"] <= which["week"]).all()
