"""manage.py run in a child process against the test database, as a person runs it at a shell.

``call_command`` raises a command's errors as exceptions; only a real process shows what a person
sees: Django's own error handling, argparse's exits, exit statuses and a closed pipe. Tests that
use these need ``transactional_db``: the child must see the migrated tables and the test the
child's commits.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from django.db import connection

PROJECT_DIR = Path(__file__).resolve().parents[1]


def child_database_url() -> str:
    """The test database as a DATABASE_URL for a child process."""
    settings = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{settings['NAME']}"
    credentials = settings["USER"] + (f":{settings['PASSWORD']}" if settings["PASSWORD"] else "")
    return f"postgres://{credentials}@{settings['HOST']}:{settings['PORT']}/{settings['NAME']}"


def manage_py_command(*args: str) -> list[str]:
    return [sys.executable, "manage.py", *args]


def manage_py_environment() -> dict[str, str]:
    return {**os.environ, "DATABASE_URL": child_database_url()}


def manage_py(*args: str) -> subprocess.CompletedProcess:
    """Run ``manage.py *args`` to the end; its output as text."""
    return subprocess.run(
        manage_py_command(*args),
        cwd=PROJECT_DIR,
        env=manage_py_environment(),
        capture_output=True,
        text=True,
        timeout=120,
    )


def start_manage_py(*args: str) -> subprocess.Popen:
    """Start ``manage.py *args`` with its standard output and error on pipes (bytes)."""
    return subprocess.Popen(
        manage_py_command(*args),
        cwd=PROJECT_DIR,
        env=manage_py_environment(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
