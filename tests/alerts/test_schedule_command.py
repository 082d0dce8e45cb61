"""manage.py schedule_report: set, change and turn off an owner's scheduled report."""

import datetime as dt
import io
from zoneinfo import ZoneInfo

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from alerts import schedules
from alerts.models import ReportSchedule
from tests.factories import OwnerFactory
from tests.manage_py import manage_py


def schedule_report(*args):
    out = io.StringIO()
    call_command("schedule_report", *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def alpha(db):
    return OwnerFactory(slug="alpha", name="Alpha Pizza")


def test_a_weekly_schedule_is_saved_and_its_next_run_printed_in_the_zone_and_in_utc(alpha):
    before = timezone.now()
    output = schedule_report("--owner", "alpha", "--weekly", "monday", "--at", "07:30", "--zone", "Europe/Berlin")
    schedule = ReportSchedule.objects.get(owner=alpha)
    assert (schedule.frequency, schedule.weekday, schedule.local_time, schedule.time_zone, schedule.enabled) == (
        "weekly",
        0,
        dt.time(7, 30),
        "Europe/Berlin",
        True,
    )
    # The clock is not frozen here: the slot is the first Monday 07:30 Berlin after the call.
    assert schedule.next_run_at == schedules.next_slot(schedule, before)
    local = schedule.next_run_at.astimezone(ZoneInfo("Europe/Berlin"))
    assert (local.weekday(), local.hour, local.minute) == (0, 7, 30)
    assert output == (
        "The report of Alpha Pizza: weekly on Monday at 07:30 (Europe/Berlin).\n"
        f"Next run: {local:%A %Y-%m-%d %H:%M %Z} ({schedule.next_run_at.astimezone(dt.UTC):%Y-%m-%d %H:%M} UTC).\n"
    )


def test_a_daily_schedule_replaces_the_weekly_one_and_the_same_options_change_nothing(alpha):
    schedule_report("--owner", "alpha", "--weekly", "6", "--at", "08:00", "--zone", "UTC")
    schedule_report("--owner", "alpha", "--daily", "--at", "09:15", "--zone", "Asia/Kolkata")
    schedule = ReportSchedule.objects.get()
    assert (schedule.frequency, schedule.weekday, schedule.local_time) == ("daily", None, dt.time(9, 15))
    utc_run = schedule.next_run_at.astimezone(dt.UTC)
    assert (utc_run.hour, utc_run.minute) == (3, 45)  # 09:15 IST is 03:45 UTC all year
    schedule_report("--owner", "alpha", "--daily", "--at", "09:15", "--zone", "Asia/Kolkata")
    assert ReportSchedule.objects.get().next_run_at == schedule.next_run_at


def test_off_turns_the_schedule_off_and_says_so(alpha):
    assert schedule_report("--owner", "alpha", "--off") == "Alpha Pizza has no scheduled report: nothing to turn off.\n"
    schedule_report("--owner", "alpha", "--daily", "--at", "08:00", "--zone", "UTC")
    assert schedule_report("--owner", "alpha", "--off") == "The scheduled report of Alpha Pizza is off.\n"
    schedule = ReportSchedule.objects.get()
    assert (schedule.enabled, schedule.next_run_at, schedule.local_time) == (False, None, dt.time(8))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--owner", "nobody", "--off"],
            "No owner has the slug 'nobody': the admin's Owners page lists them.",
        ),
        (
            ["--owner", "alpha", "--daily", "--at", "08:00"],
            "--daily and --weekly need --at HH:MM and --zone ZONE (e.g. --at 08:00 --zone UTC).",
        ),
        (
            ["--owner", "alpha", "--daily", "--at", "8h", "--zone", "UTC"],
            "“8h” is not a time of day: write it HH:MM on a 24-hour clock, e.g. 08:00.",
        ),
        (
            ["--owner", "alpha", "--weekly", "someday", "--at", "08:00", "--zone", "UTC"],
            "“someday” is not a weekday: write its name (monday … sunday, or mon … sun) or 0 (Monday) to 6 (Sunday).",
        ),
        (
            ["--owner", "alpha", "--daily", "--at", "08:00", "--zone", "CST"],
            "“CST” is not a time zone of the tz database: write one like America/Chicago, Europe/Berlin or UTC.",
        ),
    ],
)
def test_mistakes_are_one_sentence_and_save_nothing(alpha, args, message):
    with pytest.raises(CommandError) as refused:
        schedule_report(*args)
    assert str(refused.value) == message
    assert ReportSchedule.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_at_a_shell_a_mistake_is_one_line_with_status_1_and_a_missing_choice_status_2():
    OwnerFactory(slug="alpha")
    wrong_zone = manage_py("schedule_report", "--owner", "alpha", "--daily", "--at", "08:00", "--zone", "Mars")
    assert (wrong_zone.returncode, wrong_zone.stdout) == (1, "")
    assert wrong_zone.stderr == (
        "CommandError: “Mars” is not a time zone of the tz database: write one like America/Chicago, "
        "Europe/Berlin or UTC.\n"
    )
    no_frequency = manage_py("schedule_report", "--owner", "alpha", "--at", "08:00")
    assert no_frequency.returncode == 2
    assert no_frequency.stderr == (
        "manage.py schedule_report: error: one of the arguments --daily --weekly --off is required; "
        "see manage.py schedule_report --help\n"
    )
