"""Every management command of the project answers a mistake on its command line in one line."""

import pytest

from tests.manage_py import manage_py

PROJECT_COMMANDS = [
    "load_csvs",
    "generate_report",
    "generate_sample_data",
    "prune_reports",
    "add_owner_user",
    "create_api_token",
    "prune_polls",
    "load_incoming",
    "reconcile_incidents",
    "add_channel",
    "schedule_report",
]


@pytest.mark.django_db
@pytest.mark.parametrize("command", PROJECT_COMMANDS)
def test_an_unknown_option_is_one_line_with_argparse_s_status_2(command):
    result = manage_py(command, "--no-such-option")
    assert result.returncode == 2
    assert result.stdout == ""
    # generate_sample_data says first that its --out is missing: a mistake all the same, one line.
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith(f"manage.py {command}: error: ")
    assert result.stderr.endswith(f"; see manage.py {command} --help\n")
