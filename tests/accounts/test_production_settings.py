"""DEBUG=0: the production settings, refusing anonymous access unless it is asked for twice, and a
check --deploy without a warning. Each in a child process, as the service starts."""

import json
import os
import secrets
import subprocess

import pytest

from tests.manage_py import PROJECT_DIR, manage_py_command

PRODUCTION = {
    "DEBUG": "0",
    "SECRET_KEY": secrets.token_urlsafe(60),
    "ALLOWED_HOSTS": "storemonitor.example.com",
    "DJANGO_SETTINGS_MODULE": "storemonitor.settings",
}
# Variables of these tests' own: whatever the environment of the test run says, not here.
OURS = [
    "ALLOW_ANONYMOUS",
    "ALLOW_ANONYMOUS_IN_PRODUCTION",
    "BEHIND_TLS_PROXY",
    "SECURE_HSTS_SECONDS",
    "SECURE_SSL_REDIRECT",
    "SESSION_COOKIE_SECURE",
    "CSRF_COOKIE_SECURE",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS",
    "SECURE_HSTS_PRELOAD",
    "REDIS_URL",
]


def run(*args: str, **env: str) -> subprocess.CompletedProcess:
    base = {name: value for name, value in os.environ.items() if name not in OURS}
    return subprocess.run(
        manage_py_command(*args),
        cwd=PROJECT_DIR,
        env={**base, **PRODUCTION, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def settings_of(*names: str, **env: str) -> dict:
    code = (
        "import json; from django.conf import settings; "
        f"print(json.dumps({{name: getattr(settings, name, None) for name in {list(names)!r}}}))"
    )
    result = run("shell", "-c", code, **env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.splitlines()[-1])


def test_check_deploy_prints_no_warning():
    result = run("check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "System check identified no issues (0 silenced)."
    assert "WARNING" not in result.stderr


def test_with_debug_0_anonymous_access_stops_the_service_with_both_ways_out():
    result = run("check", ALLOW_ANONYMOUS="1")
    assert result.returncode == 1
    assert result.stderr.rstrip().splitlines()[-1] == (
        "django.core.exceptions.ImproperlyConfigured: ALLOW_ANONYMOUS=1 with DEBUG=0 would let anyone who can "
        "reach the service see every store and trigger reports: unset ALLOW_ANONYMOUS (callers then sign in or "
        "send a token), or also set ALLOW_ANONYMOUS_IN_PRODUCTION=1 if that is really meant."
    )


def test_anonymous_access_in_production_starts_when_asked_for_twice():
    assert settings_of("ALLOW_ANONYMOUS", ALLOW_ANONYMOUS="1", ALLOW_ANONYMOUS_IN_PRODUCTION="1") == {
        "ALLOW_ANONYMOUS": True
    }


def test_production_defaults_are_secure_and_anonymous_access_off():
    assert settings_of(
        "ALLOW_ANONYMOUS",
        "SESSION_COOKIE_SECURE",
        "CSRF_COOKIE_SECURE",
        "SECURE_SSL_REDIRECT",
        "SECURE_HSTS_SECONDS",
        "SECURE_HSTS_INCLUDE_SUBDOMAINS",
        "SECURE_HSTS_PRELOAD",
        "SECURE_PROXY_SSL_HEADER",
    ) == {
        "ALLOW_ANONYMOUS": False,
        "SESSION_COOKIE_SECURE": True,
        "CSRF_COOKIE_SECURE": True,
        "SECURE_SSL_REDIRECT": True,
        "SECURE_HSTS_SECONDS": 31536000,
        "SECURE_HSTS_INCLUDE_SUBDOMAINS": True,
        "SECURE_HSTS_PRELOAD": True,
        "SECURE_PROXY_SSL_HEADER": None,
    }


def test_the_environment_sets_hsts_and_the_tls_proxy():
    assert settings_of(
        "SECURE_HSTS_SECONDS",
        "SECURE_PROXY_SSL_HEADER",
        "AXES_IPWARE_PROXY_COUNT",
        SECURE_HSTS_SECONDS="3600",
        BEHIND_TLS_PROXY="1",
    ) == {
        "SECURE_HSTS_SECONDS": 3600,
        "SECURE_PROXY_SSL_HEADER": ["HTTP_X_FORWARDED_PROTO", "https"],
        "AXES_IPWARE_PROXY_COUNT": 1,
    }


def test_development_keeps_plain_http_and_anonymous_access():
    assert settings_of(
        "ALLOW_ANONYMOUS", "SESSION_COOKIE_SECURE", "SECURE_SSL_REDIRECT", "SECURE_HSTS_SECONDS", DEBUG="1"
    ) == {
        "ALLOW_ANONYMOUS": True,
        "SESSION_COOKIE_SECURE": False,
        "SECURE_SSL_REDIRECT": False,
        "SECURE_HSTS_SECONDS": 0,
    }


@pytest.mark.parametrize("debug", ["0", "1"])
def test_passwords_are_checked_by_django_s_four_validators(debug):
    validators = settings_of("AUTH_PASSWORD_VALIDATORS", DEBUG=debug)["AUTH_PASSWORD_VALIDATORS"]
    assert [v["NAME"].rsplit(".", 1)[1] for v in validators] == [
        "UserAttributeSimilarityValidator",
        "MinimumLengthValidator",
        "CommonPasswordValidator",
        "NumericPasswordValidator",
    ]


def test_the_cache_is_redis_with_redis_url_and_files_otherwise(tmp_path):
    files = settings_of("CACHES", STOREMONITOR_VAR_DIR=str(tmp_path))["CACHES"]["default"]
    assert files == {
        "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
        "LOCATION": str(tmp_path / "cache"),
    }
    redis = settings_of("CACHES", REDIS_URL="redis://127.0.0.1:6379/15")["CACHES"]["default"]
    assert redis["BACKEND"] == "django.core.cache.backends.redis.RedisCache"
    assert redis["LOCATION"] == "redis://127.0.0.1:6379/15"
