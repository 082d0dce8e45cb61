"""Settings for storemonitor: the only module that reads the environment.

Every value can be set through an environment variable; the defaults give a working
development service with nothing else installed (SQLite, django-q2's ORM broker, local media).
The README's configuration table lists the variables.
"""

import logging
import secrets
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from storemonitor.env import email_settings_from_url, env_bool, env_int, env_list, env_rate, env_str

# --- General -------------------------------------------------------------------------------

BASE_DIR = Path(__file__).resolve().parent.parent
# Local state (SQLite file, media, generated secret key) lives here; git ignores it.
VAR_DIR = Path(env_str("STOREMONITOR_VAR_DIR", str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)

DEBUG = env_bool("DEBUG", True)


def _secret_key() -> str:
    key = env_str("SECRET_KEY")
    if key:
        return key
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG=0.")
    # Development: generate a key once and keep it, so sessions survive restarts.
    key_file = VAR_DIR / "dev_secret_key"
    if not key_file.exists():
        key_file.write_text(secrets.token_urlsafe(50))
    return key_file.read_text().strip()


SECRET_KEY = _secret_key()

# --- Access --------------------------------------------------------------------------------

# Callers without a login or token may use the service (read and report on every store): the
# open API of the assignment. On by default in development only (monitoring.access).
ALLOW_ANONYMOUS = env_bool("ALLOW_ANONYMOUS", DEBUG)
if ALLOW_ANONYMOUS and not DEBUG and not env_bool("ALLOW_ANONYMOUS_IN_PRODUCTION", False):
    raise ImproperlyConfigured(
        "ALLOW_ANONYMOUS=1 with DEBUG=0 would let anyone who can reach the service see every store and "
        "trigger reports: unset ALLOW_ANONYMOUS (callers then sign in or send a token), or also set "
        "ALLOW_ANONYMOUS_IN_PRODUCTION=1 if that is really meant."
    )
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Applications --------------------------------------------------------------------------

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "axes",  # sign-in lockout after repeated wrong passwords (accounts, "Sign-in" below)
    "knox",  # API token storage (hashed); accounts.ApiToken is the token model
    "accounts",
    # Before django_q: the reports app's `qcluster` command replaces django-q2's (reports.cluster).
    "monitoring",
    "reports",
    "alerts",  # incidents, notification channels, scheduled reports
    "rest_framework",
    "django_q",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI and ReDoc assets, served locally (no CDN)
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Serves static files (admin, API docs assets) without a CDN or a separate server.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Pages redirect anonymous visitors to the login page unless ALLOW_ANONYMOUS is on; the API
    # answers 401 itself and the admin has its own login.
    "accounts.middleware.SignInRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: turns a locked-out sign-in into the lockout page (429).
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "storemonitor.urls"
WSGI_APPLICATION = "storemonitor.wsgi.application"
ASGI_APPLICATION = "storemonitor.asgi.application"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "accounts.context_processors.access",  # the anonymous-access banner
            ],
        },
    },
]

# --- Database ------------------------------------------------------------------------------

DATABASE_URL = env_str("DATABASE_URL", f"sqlite:///{VAR_DIR / 'storemonitor.sqlite3'}")
DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=env_int("DB_CONN_MAX_AGE", 0))}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["OPTIONS"] = {
        # WAL lets a report read one consistent snapshot while a load writes, and lets the web
        # server, the worker and load_csvs share the file. IMMEDIATE takes the write lock at
        # BEGIN, so concurrent writers wait (timeout) instead of failing on lock upgrade.
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,
    }

# --- Sign-in and passwords -----------------------------------------------------------------

# Knox stores API tokens as SHA-512 digests; accounts.ApiToken adds a name and the last use.
KNOX_TOKEN_MODEL = "accounts.ApiToken"
REST_KNOX = {
    "TOKEN_TTL": None,  # a token lives until revoked, unless it was created with an expiry
    "AUTH_HEADER_PREFIX": "Token",
}
# knox's own migrations create its AuthToken table even when KNOX_TOKEN_MODEL replaces it (they
# do not mark it swappable): an unused table whose foreign key to users also breaks PostgreSQL's
# flush. accounts' migrations make the only token table.
MIGRATION_MODULES = {"knox": None}

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "login"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# django-axes checks every sign-in (the pages' and the admin's) before the model backend does.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
# After LOGIN_FAILURE_LIMIT wrong passwords for one username from one address, that pair is
# locked out for LOGIN_LOCKOUT_MINUTES (each further try restarts the wait); a right password
# before that clears the count. Keyed on the pair: by username alone a stranger could lock an
# owner out of their own account, by address alone one office behind a NAT locks itself out.
AXES_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5, minimum=1)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("LOGIN_LOCKOUT_MINUTES", 15, minimum=1))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
# The site's lockout page (429), for the pages and the admin.
AXES_LOCKOUT_CALLABLE = "accounts.views.locked_out"
# Not its banner line at every start of every command; lockouts are still logged.
AXES_VERBOSE = False

# Behind a TLS-terminating proxy (nginx, a load balancer) that sets X-Forwarded-Proto and
# X-Forwarded-For: requests it marks https are secure, and the lockout keys on the client's address
# it forwards, not the proxy's. Without a proxy these headers come from the client: never trusted.
BEHIND_TLS_PROXY = env_bool("BEHIND_TLS_PROXY", False)
if BEHIND_TLS_PROXY:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    AXES_IPWARE_PROXY_COUNT = 1
    AXES_IPWARE_META_PRECEDENCE_ORDER = ("HTTP_X_FORWARDED_FOR", "REMOTE_ADDR")

# --- Production (DEBUG=0) ------------------------------------------------------------------

# Served over https only: cookies never travel in clear, http is redirected, and browsers are
# told (HSTS) to use https for a year. Each can be turned off from the environment, e.g. for a
# trial on plain http (SECURE_SSL_REDIRECT=0 SESSION_COOKIE_SECURE=0 CSRF_COOKIE_SECURE=0).
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", not DEBUG)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", not DEBUG)
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
# A load balancer checks liveness over plain http: /healthz answers there too (reports.status).
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 365 * 24 * 60 * 60, minimum=0)
# Preloading commits the domain (and its subdomains) to https in browsers for good once it is
# submitted to the preload list; the header alone submits nothing.
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", not DEBUG)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", not DEBUG)

# --- Static and media files ----------------------------------------------------------------

STATIC_URL = "static/"
# The pages' own CSS and JavaScript (static/storemonitor/), next to what the apps ship.
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(VAR_DIR / "static")))
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # WhiteNoise warns at every start if it is missing
MEDIA_URL = "media/"
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(VAR_DIR / "media")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

# --- Job queue (django-q2) -----------------------------------------------------------------

# Optional: with REDIS_URL set the job queue uses Redis, otherwise the database (ORM broker).
REDIS_URL = env_str("REDIS_URL")

# A report task is killed after this many seconds and its report marked Failed.
REPORT_TIMEOUT_SECONDS = env_int("REPORT_TIMEOUT_SECONDS", 600, minimum=10)

Q_CLUSTER = {
    # Also the salt that signs queued tasks: the web server and every worker must agree.
    "name": "storemonitor",
    "workers": env_int("Q_WORKERS", 2, minimum=1),
    # Prefetch no more than one task per worker: a killed cluster loses (Redis) or delays
    # (ORM, until retry) only what it had fetched.
    "queue_limit": env_int("Q_WORKERS", 2, minimum=1),
    "timeout": REPORT_TIMEOUT_SECONDS,
    # The ORM broker hands a fetched task out again when it is not acknowledged within `retry`
    # seconds. Retry above timeout: a slow report is killed before it could be started twice.
    "retry": REPORT_TIMEOUT_SECONDS + 120,
    # A failed report is never re-run silently: one attempt, and failures leave the queue. A
    # report whose worker died is re-queued at most once by reports.actions (see docs/jobs.md).
    "max_attempts": 1,
    "ack_failures": True,
    # The stalled-report check is periodic housekeeping: after downtime run it once, not once
    # per missed minute.
    "catch_up": False,
    "save_limit": 250,
    "label": "Jobs",
}
if REDIS_URL:
    Q_CLUSTER["redis"] = REDIS_URL
else:
    Q_CLUSTER["orm"] = "default"

# --- Cache ---------------------------------------------------------------------------------

# Shared by every process of the service (web servers, workers): the API's rate limits count
# there. Redis when REDIS_URL is set (the cache's keys are prefixed apart from the job queue's);
# otherwise files under VAR_DIR, which the processes of one machine share.
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "storemonitor-cache",
        }
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(VAR_DIR / "cache"),
        }
    }

# --- Reports -------------------------------------------------------------------------------

# Only polls in [as_of - lookback, as_of] feed a report (uptime rule 1).
REPORT_LOOKBACK_DAYS = env_int("REPORT_LOOKBACK_DAYS", 14, minimum=7)
# A running report refreshes its heartbeat this often; one whose heartbeat is older than
# REPORT_STALL_SECONDS lost its worker and is re-queued, or Failed after REPORT_MAX_ATTEMPTS runs.
REPORT_HEARTBEAT_SECONDS = env_int("REPORT_HEARTBEAT_SECONDS", 10, minimum=1)
REPORT_STALL_SECONDS = env_int(
    "REPORT_STALL_SECONDS", max(120, 6 * REPORT_HEARTBEAT_SECONDS), minimum=3 * REPORT_HEARTBEAT_SECONDS
)
REPORT_MAX_ATTEMPTS = env_int("REPORT_MAX_ATTEMPTS", 2, minimum=1)
# A report of more stores than this is split into shards of whole stores, each a job any worker
# can take, all inside one exported snapshot (PostgreSQL only; reports.shards, docs/jobs.md). The
# default keeps 14,000 stores one piece.
REPORT_SHARD_STORES = env_int("REPORT_SHARD_STORES", 20_000, minimum=1)
# Reports and their CSVs are deleted this many days after they were created (a daily schedule).
REPORT_RETENTION_DAYS = env_int("REPORT_RETENTION_DAYS", 30, minimum=1)

# --- Report limits -------------------------------------------------------------------------

# Triggering reports (API, dashboard, admin: reports.admission) is limited to this many per user,
# or per IP address for callers who are not signed in: "N/period", period s, m, h or d (second,
# minute, hour, day; DRF's throttle format, read by the first letter).
REPORT_TRIGGER_RATE = env_rate("REPORT_TRIGGER_RATE", "60/hour")
# At most this many Pending reports per owner (the all-stores reports of staff and anonymous
# callers are one group); beyond, a trigger is refused with 429 until one has started.
MAX_PENDING_REPORTS_PER_OWNER = env_int("MAX_PENDING_REPORTS_PER_OWNER", 5, minimum=1)

# --- Pages ---------------------------------------------------------------------------------

# A store's page draws business time farther than this from every evidence poll as assumed
# (hatched): its status was carried there from a poll at least that far away. At most a week.
EVIDENCE_RADIUS_MINUTES = env_int("EVIDENCE_RADIUS_MINUTES", 90, minimum=1)
if EVIDENCE_RADIUS_MINUTES > 7 * 24 * 60:
    raise ImproperlyConfigured(
        f"EVIDENCE_RADIUS_MINUTES={EVIDENCE_RADIUS_MINUTES} is above the maximum 10080 (a week): "
        "nothing would ever be drawn as assumed."
    )

# --- Feeds (ingestion) ---------------------------------------------------------------------

# A poll may be at most this many minutes later than the time it is loaded (clocks differ a
# little); later ones, and any before 2000-01-01, are refused as errors.
MAX_FUTURE_MINUTES = env_int("MAX_FUTURE_MINUTES", 60, minimum=0)
# A feed line longer than this many characters (after decompression; a row whose quoted field
# spans lines counts all its lines) is refused with its line number, before it is held in
# memory whole. Fields are bounded by the same figure.
MAX_FEED_LINE_CHARS = env_int("MAX_FEED_LINE_CHARS", 1024 * 1024, minimum=1024)

# The push API (POST /api/feeds/…) refuses a body over this many megabytes (as sent, so
# compressed for gzip) with 413, before reading it whole.
MAX_FEED_UPLOAD_MB = env_int("MAX_FEED_UPLOAD_MB", 100, minimum=1)
# A watched folder: every *.csv / *.csv.gz put here is loaded by the workers (monitoring.incoming),
# checked for every INCOMING_POLL_SECONDS. Empty: no folder is watched.
INCOMING_DIR = Path(env_str("INCOMING_DIR")) if env_str("INCOMING_DIR").strip() else None
INCOMING_POLL_SECONDS = env_int("INCOMING_POLL_SECONDS", 60, minimum=1)
# A worker loading a file of the folder touches its claim every quarter of this; a claim untouched
# for longer is a dead worker's, and a later pass retries the file once. Keep it above the clock
# difference between the machines sharing the folder (monitoring/incoming.py).
INCOMING_LEASE_SECONDS = env_int("INCOMING_LEASE_SECONDS", 60, minimum=2)
# Freshness: a store inside business hours whose newest poll is older than this is "not
# reporting", and /api/status answers 503 when no import completed for this long.
STALE_AFTER_MINUTES = env_int("STALE_AFTER_MINUTES", 90, minimum=1)
# Polls older than this many days are deleted by a daily schedule (monitoring.retention); 0 keeps
# them all. A report reads REPORT_LOOKBACK_DAYS of polls, so less than that is refused.
POLL_RETENTION_DAYS = env_int("POLL_RETENTION_DAYS", 90, minimum=0)
if 0 < POLL_RETENTION_DAYS < REPORT_LOOKBACK_DAYS:
    raise ImproperlyConfigured(
        f"POLL_RETENTION_DAYS={POLL_RETENTION_DAYS} is below REPORT_LOOKBACK_DAYS={REPORT_LOOKBACK_DAYS}: "
        "reports would lose polls they read. Keep at least the lookback, or 0 to keep every poll."
    )

# --- Alerts (incidents, notifications, scheduled reports) -----------------------------------

# The address links in notifications start with (webhook bodies, emails): where owners reach
# this service.
SITE_URL = env_str("SITE_URL", "http://127.0.0.1:8000").rstrip("/")
# How long one webhook or Apprise attempt may take, and the delays before each retry after a
# failed attempt (then the delivery is given up and its channel shown as failing).
ALERT_SEND_TIMEOUT_SECONDS = env_int("ALERT_SEND_TIMEOUT_SECONDS", 10, minimum=1)
ALERT_RETRY_DELAYS_SECONDS = [
    int(value) for value in env_list("ALERT_RETRY_DELAYS_SECONDS", ["60", "300", "1800", "7200"])
]
# Webhook and Apprise targets on loopback, private, link-local or reserved addresses are refused
# (a channel must not make the workers post into the service's own network) unless this is on:
# for receivers inside your network, and the tests' local receiver.
ALERT_ALLOW_PRIVATE_TARGETS = env_bool("ALERT_ALLOW_PRIVATE_TARGETS", False)
# "Send a test" (page and API) sends at once from the web server: at most this many per user
# (REPORT_TRIGGER_RATE's format), so a page cannot be used to hammer a target.
ALERT_TEST_RATE = env_rate("ALERT_TEST_RATE", "10/hour")


# Email channels go through Django's email backend: EMAIL_URL, or the usual EMAIL_HOST,
# EMAIL_PORT, EMAIL_HOST_USER, EMAIL_HOST_PASSWORD, EMAIL_USE_TLS, EMAIL_USE_SSL. With neither,
# development prints emails on the console and production sends through an SMTP server on
# localhost:25 (Django's own default: the machine's mail relay).
EMAIL_URL = env_str("EMAIL_URL").strip()
_email: dict
if EMAIL_URL:
    _email = email_settings_from_url(EMAIL_URL)
else:
    _email = {
        "EMAIL_BACKEND": "django.core.mail.backends."
        + ("smtp" if env_str("EMAIL_HOST") or not DEBUG else "console")
        + ".EmailBackend",
        "EMAIL_HOST": env_str("EMAIL_HOST", "localhost"),
        "EMAIL_PORT": env_int("EMAIL_PORT", 25, minimum=1),
        "EMAIL_HOST_USER": env_str("EMAIL_HOST_USER"),
        "EMAIL_HOST_PASSWORD": env_str("EMAIL_HOST_PASSWORD"),
        "EMAIL_USE_TLS": env_bool("EMAIL_USE_TLS", False),
        "EMAIL_USE_SSL": env_bool("EMAIL_USE_SSL", False),
    }
EMAIL_BACKEND: str = _email["EMAIL_BACKEND"]
EMAIL_HOST: str = _email.get("EMAIL_HOST", "localhost")
EMAIL_PORT: int = _email.get("EMAIL_PORT", 25)
EMAIL_HOST_USER: str = _email.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD: str = _email.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS: bool = _email.get("EMAIL_USE_TLS", False)
EMAIL_USE_SSL: bool = _email.get("EMAIL_USE_SSL", False)
if EMAIL_USE_TLS and EMAIL_USE_SSL:
    raise ImproperlyConfigured("EMAIL_USE_TLS and EMAIL_USE_SSL are both on: use one (587: TLS, 465: SSL).")
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "storemonitor <storemonitor@localhost>")
# One SMTP conversation step may take this long (as one webhook attempt).
EMAIL_TIMEOUT = ALERT_SEND_TIMEOUT_SECONDS

# --- API (Django REST framework, drf-spectacular) ------------------------------------------

REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 20,
    # A token first: a 401 then names its scheme (WWW-Authenticate: Token). The session serves
    # signed-in people calling the API from the pages (CSRF applies then).
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.authentication.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    # Signed in, or anonymous while ALLOW_ANONYMOUS is on (monitoring.access).
    "DEFAULT_PERMISSION_CLASSES": ["accounts.permissions.SignedInOrAnonymousAllowed"],
    # Behind the TLS proxy the client's address is the one the proxy appends to X-Forwarded-For
    # (the per-IP trigger rate, reports.admission); otherwise only the connection's address counts.
    "NUM_PROXIES": 1 if BEHIND_TLS_PROXY else None,
    # Every API error is a JSON object with an "error" sentence.
    "EXCEPTION_HANDLER": "reports.api.errors.json_exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "storemonitor API",
    "DESCRIPTION": "Trigger uptime/downtime reports of all stores, poll them and download the CSV.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # The schema and the docs page follow the API's own rule (a token, a session, or anonymous
    # access on).
    "SERVE_PERMISSIONS": ["accounts.permissions.SignedInOrAnonymousAllowed"],
    # The docs pages load their JavaScript and CSS from this service, so they work offline.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    # No schema check against swagger.io's online validator either.
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "validatorUrl": None},
    "PREPROCESSING_HOOKS": ["reports.api.schema.drop_slash_aliases"],
    # Every operation that needs a caller documents its 401.
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "accounts.schema.document_unauthenticated",
    ],
    # The two endpoints of the assignment come first, in the docs and in the schema: operations
    # in the order of reports/api/urls.py (not by path, which puts /api/... first), and the
    # docs' groups in this order.
    "SORT_OPERATIONS": False,
    "TAGS": [
        {
            "name": "Trigger and poll",
            "description": "The two endpoints of the assignment: POST /trigger_report starts a report of every "
            "store; GET /get_report?report_id=… tells its progress, then hands back the CSV.",
        },
        {
            "name": "Browse reports",
            "description": "Every report, newest first; one report; its CSV and its outages CSV.",
        },
        {"name": "Stores", "description": "One store's outages in the last week, newest first."},
        {
            "name": "Feeds",
            "description": "Push a feed (CSV or JSON, gzip allowed) to load it as manage.py load_csvs does; the "
            "import ledger of every load.",
        },
        {
            "name": "Incidents",
            "description": "Stores offline during their business hours, kept up to date after every import: "
            "open ones (offline now) and ended ones, newest first.",
        },
        {
            "name": "Channels",
            "description": "Where an owner's alerts go (signed webhooks, email, Apprise URLs): add, change, delete "
            "and test them. Signed-in callers only.",
        },
        {
            "name": "Service",
            "description": "Is the data fresh, and are the database and the job queue there: for monitors, "
            "without a token too (the stores not reporting only to callers who may see stores).",
        },
    ],
    "ENUM_NAME_OVERRIDES": {
        "ReportStatusEnum": "reports.models.Report.Status",
        "UnfinishedStatusEnum": ["Pending", "Running"],
    },
}

# --- Logging -------------------------------------------------------------------------------

LOG_LEVEL = env_str("LOG_LEVEL", "INFO").upper()
if LOG_LEVEL not in logging.getLevelNamesMapping():
    raise ImproperlyConfigured(f"LOG_LEVEL={LOG_LEVEL!r} is not a log level: use DEBUG, INFO, WARNING or ERROR.")

# One handler, on the root logger, one format: every message is one line, the same in the web
# server, the job worker and the commands. Django's own default configuration gives the
# "django" logger a handler of its own (so its messages printed twice, once plain) and the
# request log ("django.server") another format; django-q2 gives "django-q" a handler when it
# is imported before logging is set up. Here they only pass their messages up to the root.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        # Not below INFO: at DEBUG Django logs every SQL query and every file the reloader watches.
        "django": {
            "handlers": [],
            "level": logging.getLevelName(max(logging.INFO, logging.getLevelNamesMapping()[LOG_LEVEL])),
            "propagate": True,
        },
        "django.server": {"handlers": [], "level": "NOTSET", "propagate": True},
        "django-q": {"handlers": [], "level": "NOTSET", "propagate": True},
        # django-axes logs four lines at every sign-in; a lockout is a warning.
        "axes": {"handlers": [], "level": "WARNING", "propagate": True},
    },
}
