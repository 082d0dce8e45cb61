"""Settings for the test suite: the normal settings plus what tests need to be deterministic."""

from storemonitor.settings import *
from storemonitor.settings import DATABASES, Q_CLUSTER, VAR_DIR

# Fast, insecure hashing: tests create users.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A file (not :memory:), so a worker process started by an end-to-end test sees the same data.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test_storemonitor.sqlite3")}

# Jobs run inside the call that queues them. django-q2 reads this once, when it is imported:
# override_settings cannot switch it (the end-to-end tests start real workers instead).
Q_CLUSTER = {**Q_CLUSTER, "sync": True}

# One process, a fresh cache per test (tests/conftest.py clears it): rate limits and lockouts of
# one test never reach the next, nor var/cache.
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
