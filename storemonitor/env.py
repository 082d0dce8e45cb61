"""Small helpers that read typed values from the environment.

Only ``storemonitor.settings`` calls these; the rest of the code reads ``django.conf.settings``.
"""

import os
from urllib.parse import parse_qs, unquote, urlsplit

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name}={raw!r} is not a boolean: use 1/0, true/false, yes/no or on/off.")


def env_int(name: str, default: int, minimum: int | None = None) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={raw!r} is not an integer.") from None
    if minimum is not None and value < minimum:
        raise ImproperlyConfigured(f"{name}={value} is below the minimum {minimum}.")
    return value


_RATE_PERIODS = {"s", "sec", "second", "m", "min", "minute", "h", "hour", "d", "day"}


def env_rate(name: str, default: str) -> str:
    """A rate in DRF's throttle format, "N/period" (period s, m, h or d, or second … day)."""
    rate = env_str(name, default).strip()
    count, _, period = rate.partition("/")
    if not (count.isdecimal() and int(count) >= 1 and period in _RATE_PERIODS):
        raise ImproperlyConfigured(
            f"{name}={rate!r} is not a rate: write how many per period, like 60/hour, 10/minute or "
            "500/day (the period one of s, m, h, d or second, minute, hour, day)."
        )
    return rate


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


def email_settings_from_url(url: str) -> dict:
    """EMAIL_URL as Django's EMAIL_* settings: smtp://user:password@host:port (smtps:// or
    ?ssl=1 for TLS from the start, ?tls=1 for STARTTLS; user and password %-encoded), console:
    or locmem:. ~25 lines rather than dj-email-url (unreleased since 2022) for errors that say
    what to fix."""
    backends = {"console": "console", "locmem": "locmem", "dummy": "dummy", "smtp": "smtp", "smtps": "smtp"}
    parts = urlsplit(url)
    if parts.scheme not in backends:
        raise ImproperlyConfigured(
            f"EMAIL_URL={parts.scheme}:… is not an email URL: use smtp://user:password@host:587?tls=1, "
            "smtps://user:password@host:465, console: or locmem:."
        )
    found: dict = {"EMAIL_BACKEND": f"django.core.mail.backends.{backends[parts.scheme]}.EmailBackend"}
    if backends[parts.scheme] == "smtp":
        query = {name: values[-1].strip().lower() for name, values in parse_qs(parts.query).items()}
        try:
            port = parts.port
        except ValueError:
            raise ImproperlyConfigured("EMAIL_URL has a port that is not a number.") from None
        found.update(
            EMAIL_HOST=parts.hostname or "localhost",
            EMAIL_HOST_USER=unquote(parts.username or ""),
            EMAIL_HOST_PASSWORD=unquote(parts.password or ""),
            EMAIL_USE_SSL=parts.scheme == "smtps" or query.get("ssl") in {"1", "true", "yes", "on"},
            EMAIL_USE_TLS=query.get("tls") in {"1", "true", "yes", "on"},
        )
        found["EMAIL_PORT"] = port or (465 if found["EMAIL_USE_SSL"] else 587 if found["EMAIL_USE_TLS"] else 25)
    return found
