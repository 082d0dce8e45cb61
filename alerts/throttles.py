"""How often a user may send a test notification (``ALERT_TEST_RATE``), on the page and the API."""

from django.conf import settings
from rest_framework.throttling import SimpleRateThrottle


class ChannelTestThrottle(SimpleRateThrottle):
    """DRF's rate throttle of test sends: ``ALERT_TEST_RATE`` per user (only signed-in users
    manage channels); histories in the default cache. Works on DRF's Request and on a plain
    HttpRequest alike, so the page and the API count together."""

    scope = "channel_test"

    def get_rate(self) -> str:
        return settings.ALERT_TEST_RATE

    def get_cache_key(self, request, view) -> str:
        return self.cache_format % {"scope": self.scope, "ident": f"user-{request.user.pk}"}


def test_rate_sentence(wait: float | None) -> str:
    """Why a test send was refused, and when the next one is let through."""
    later = f"in {max(1, round(wait))} s" if wait is not None else "later"
    return (
        f"Too many test notifications: at most ALERT_TEST_RATE={settings.ALERT_TEST_RATE} per user. Try again {later}."
    )
