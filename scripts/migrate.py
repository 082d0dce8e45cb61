"""`make migrate`: apply the migrations and say so in one line; errors show in full, as `manage.py migrate` shows them.

$ .venv/bin/python scripts/migrate.py
Database ready (42 migrations applied).
$ .venv/bin/python scripts/migrate.py
Database up to date.
"""

import os
import sys
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent


def main() -> None:
    sys.path.insert(0, str(PROJECT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "storemonitor.settings")
    import django

    django.setup()
    from django.core.management import execute_from_command_line
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(connection)
    pending = len(executor.migration_plan(executor.loader.graph.leaf_nodes()))
    # Verbosity 0: migrate prints nothing when it succeeds; a failure (CommandError or traceback)
    # is printed, and the exit status set, exactly as by manage.py.
    execute_from_command_line([sys.argv[0], "migrate", "--noinput", "--verbosity", "0"])
    if pending:
        print(f"Database ready ({pending} migration{'s' if pending != 1 else ''} applied).")
    else:
        print("Database up to date.")


if __name__ == "__main__":
    main()
