"""One logging configuration (storemonitor/settings.py LOGGING): every message is one line in one
format, whoever logs it (Django, its request log, django-q2, our modules) and in every process."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LINE = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (?P<level>[A-Z]+) (?P<logger>\S+): (?P<message>.*)")

# Each logger with a message of its own: Django's (which its default configuration gave a handler
# too), the request log of runserver, django-q2's, ours, and the root logger.
LOGGERS = ["django.utils.autoreload", "django.server", "django-q", "reports.cluster", "root"]


def log_through_every_logger(tmp_path: Path, *, import_django_q_first: bool, **settings: str):
    program = "\n".join(
        [
            "import logging",
            "import django",
            # django-q2 gives its logger a handler of its own when it is imported before logging is set up.
            "import django_q.conf" if import_django_q_first else "",
            "django.setup()",
            "import django_q.conf",
            *(
                f"logging.getLogger({'' if name == 'root' else name!r}).{level}('message from {name}')"
                for name in LOGGERS
                for level in ("info", "warning")
            ),
        ]
    )
    env = {
        **{name: value for name, value in os.environ.items() if name not in {"DATABASE_URL", "REDIS_URL"}},
        "DJANGO_SETTINGS_MODULE": "storemonitor.settings",
        "STOREMONITOR_VAR_DIR": str(tmp_path),
        "DEBUG": "1",  # Django's own console handler only printed with DEBUG on
        **settings,
    }
    return subprocess.run(
        [sys.executable, "-c", program], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )


@pytest.mark.parametrize("import_django_q_first", [False, True])
def test_every_message_is_one_line_in_one_format(tmp_path, import_django_q_first):
    done = log_through_every_logger(tmp_path, import_django_q_first=import_django_q_first)
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""
    lines = done.stderr.splitlines()
    assert [LINE.fullmatch(line) is not None for line in lines] == [True] * len(lines), lines
    assert [(m["level"], m["logger"], m["message"]) for m in map(LINE.fullmatch, lines)] == [
        (level, name, f"message from {name}") for name in LOGGERS for level in ("INFO", "WARNING")
    ]


def test_log_level_applies_to_every_logger(tmp_path):
    done = log_through_every_logger(tmp_path, import_django_q_first=True, LOG_LEVEL="warning")
    assert done.returncode == 0, done.stderr
    assert [LINE.fullmatch(line)["logger"] for line in done.stderr.splitlines()] == LOGGERS


def test_a_log_level_that_is_none_is_refused_with_a_sentence(tmp_path):
    done = log_through_every_logger(tmp_path, import_django_q_first=False, LOG_LEVEL="loud")
    assert done.returncode != 0
    assert "LOG_LEVEL='LOUD' is not a log level: use DEBUG, INFO, WARNING or ERROR." in done.stderr
