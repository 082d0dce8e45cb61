"""`make migrate` (scripts/migrate.py): one line when it went well, the error in full when not."""

import os
import subprocess
import sys
from pathlib import Path

from django.db.migrations.loader import MigrationLoader

ROOT = Path(__file__).resolve().parent.parent


def migrate(var_dir: Path, **settings: str) -> subprocess.CompletedProcess:
    env = {
        **{name: value for name, value in os.environ.items() if name not in {"DATABASE_URL", "REDIS_URL"}},
        "DJANGO_SETTINGS_MODULE": "storemonitor.settings",
        "STOREMONITOR_VAR_DIR": str(var_dir),
        **settings,
    }
    return subprocess.run(
        [sys.executable, "scripts/migrate.py"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def test_a_new_database_is_migrated_in_one_line_and_then_is_up_to_date(tmp_path):
    every_migration = len(MigrationLoader(None, ignore_no_migrations=True).graph.nodes)
    first = migrate(tmp_path)
    assert (first.returncode, first.stdout, first.stderr) == (
        0,
        f"Database ready ({every_migration} migrations applied).\n",
        "",
    )
    again = migrate(tmp_path)
    assert (again.returncode, again.stdout, again.stderr) == (0, "Database up to date.\n", "")


def test_a_database_that_cannot_be_opened_shows_the_error_in_full(tmp_path):
    done = migrate(tmp_path, DATABASE_URL=f"sqlite:///{tmp_path}/no-such-directory/db.sqlite3")
    assert done.returncode == 1
    assert "Database" not in done.stdout
    assert done.stderr.startswith("Traceback (most recent call last):")
    assert done.stderr.rstrip().endswith("django.db.utils.OperationalError: unable to open database file")
