"""reports.admission.admit_report: which report a trigger gets, or why it gets none.

Triggers here are made inside the test's transaction, whose commit never comes: their tasks are
never queued, so the reports they create stay Pending.
"""

import datetime as dt

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.cache import cache
from django.utils import timezone

from reports.admission import (
    ASSUMED_RUN_SECONDS,
    RETRY_AFTER_MAX_SECONDS,
    RETRY_AFTER_MIN_SECONDS,
    ReportRefused,
    admit_report,
    pending_retry_after,
)
from reports.models import Report
from tests.factories import OwnerFactory, UserFactory
from tests.reports.conftest import at

pytestmark = pytest.mark.django_db

AS_OF = at("2023-01-25 12:00")


@pytest.fixture(autouse=True)
def fresh_throttle_history():
    """The throttle keeps its history in the default cache: every test starts with none."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def admit(rf):
    """admit_report for ``user`` (anonymous when None) calling from ``ip``, with the defaults."""

    def call(user=None, *, ip="10.0.0.1", owner=None, as_of=AS_OF, method="last_known", columns="basic", **meta):
        request = rf.post("/trigger_report", REMOTE_ADDR=ip, **meta)
        request.user = user if user is not None else AnonymousUser()
        return admit_report(request, owner_slug=owner, as_of=as_of, method=method, columns=columns)

    return call


def refusal(call, *args, **kwargs) -> ReportRefused:
    with pytest.raises(ReportRefused) as raised:
        call(*args, **kwargs)
    return raised.value


# --- Which stores -------------------------------------------------------------------------


def test_an_owners_user_gets_a_report_of_that_owners_stores(admit, two_owners):
    admission = admit(two_owners.user_a)
    report = Report.objects.get()
    assert admission.report == report
    assert not admission.existing
    assert (report.owner, report.requested_by, report.status) == (two_owners.owner_a, two_owners.user_a, "Pending")
    assert (report.as_of, report.method, report.columns) == (AS_OF, "last_known", "basic")


def test_an_owners_user_may_name_its_own_owner(admit, two_owners):
    assert admit(two_owners.user_a, owner="alpha").report.owner == two_owners.owner_a


def test_staff_get_every_store_or_the_owner_they_name(admit, two_owners):
    assert admit(two_owners.staff).report.owner is None
    assert admit(two_owners.staff, owner="beta").report.owner == two_owners.owner_b
    assert admit(two_owners.staff).report.requested_by == two_owners.staff


def test_an_allowed_anonymous_caller_gets_every_store_and_no_requester(admit, settings, two_owners):
    settings.ALLOW_ANONYMOUS = True
    report = admit().report
    assert (report.owner, report.requested_by) == (None, None)


def test_an_anonymous_caller_is_refused_while_anonymous_access_is_off(admit, settings, two_owners):
    settings.ALLOW_ANONYMOUS = False
    refused = refusal(admit)
    assert (refused.status_code, refused.sentence) == (403, "Sign in (or send an API token) to trigger reports.")
    assert not Report.objects.exists()


def test_a_user_of_several_owners_must_name_one(admit, two_owners):
    OwnerFactory(name="Gamma Grill", slug="gamma", users=[two_owners.user_a])
    refused = refusal(admit, two_owners.user_a)
    assert refused.status_code == 400
    assert refused.sentence == "Your account belongs to several owners (alpha, gamma): pass owner with one of them."
    assert admit(two_owners.user_a, owner="gamma").report.owner.slug == "gamma"


def test_another_owners_slug_is_refused_exactly_as_an_unknown_one(admit, two_owners):
    other = refusal(admit, two_owners.user_a, owner="beta")
    unknown = refusal(admit, two_owners.user_a, owner="nope")
    assert (other.status_code, unknown.status_code) == (400, 400)
    assert other.sentence == "No owner has the slug 'beta'."
    assert unknown.sentence == "No owner has the slug 'nope'."
    assert not Report.objects.exists()


def test_a_user_of_no_owner_is_refused_with_403(admit, two_owners):
    refused = refusal(admit, UserFactory(username="nobody"))
    assert refused.status_code == 403
    assert refused.sentence.startswith("Your account belongs to no owner, so it has no stores to report on")
    assert not Report.objects.exists()


# --- Identical Pending reports ------------------------------------------------------------


def test_an_identical_pending_report_is_handed_back_instead_of_queuing_another(admit, two_owners):
    first = admit(two_owners.user_a).report
    again = admit(two_owners.user_a)
    assert again.existing
    assert again.report == first
    assert Report.objects.count() == 1


def test_another_user_of_the_same_owner_is_handed_the_same_pending_report(admit, two_owners):
    colleague = UserFactory(username="alice2")
    two_owners.owner_a.users.add(colleague)
    first = admit(two_owners.user_a).report
    assert admit(colleague).report == first


@pytest.mark.parametrize(
    "change",
    [
        {"as_of": at("2023-01-25 11:00")},
        {"as_of": None},
        {"method": "nearest"},
        {"columns": "extended"},
    ],
)
def test_a_report_that_differs_in_anything_is_a_new_one(admit, two_owners, change):
    first = admit(two_owners.user_a).report
    other = admit(two_owners.user_a, **change)
    assert not other.existing
    assert other.report != first
    assert Report.objects.count() == 2


def test_the_same_settings_for_another_owner_are_a_new_report(admit, two_owners):
    mine = admit(two_owners.user_a).report
    theirs = admit(two_owners.user_b).report
    every_store = admit(two_owners.staff).report
    assert len({mine.pk, theirs.pk, every_store.pk}) == 3
    assert (mine.owner, theirs.owner, every_store.owner) == (two_owners.owner_a, two_owners.owner_b, None)


def test_the_newest_poll_reports_are_identical_when_both_leave_as_of_out(admit, two_owners):
    first = admit(two_owners.user_a, as_of=None).report
    assert admit(two_owners.user_a, as_of=None).report == first


@pytest.mark.parametrize("status", ["Running", "Complete", "Failed"])
def test_a_report_that_is_no_longer_pending_is_not_handed_back(admit, two_owners, status):
    old = Report.objects.create(owner=two_owners.owner_a, as_of=AS_OF, status=status)
    admission = admit(two_owners.user_a)
    assert not admission.existing
    assert admission.report != old


# --- The pending cap ----------------------------------------------------------------------


def pending(owner, count, **fields):
    return [
        Report.objects.create(owner=owner, as_of=at("2023-01-20 00:00") + dt.timedelta(hours=n), **fields)
        for n in range(count)
    ]


def test_an_owner_at_the_pending_cap_is_refused_with_429_retry_after_and_a_sentence(admit, settings, two_owners):
    settings.MAX_PENDING_REPORTS_PER_OWNER = 3
    pending(two_owners.owner_a, 3)
    refused = refusal(admit, two_owners.user_a)
    assert refused.status_code == 429
    assert RETRY_AFTER_MIN_SECONDS <= refused.retry_after <= RETRY_AFTER_MAX_SECONDS
    assert refused.sentence == (
        "3 reports of owner alpha are already Pending, the most allowed (MAX_PENDING_REPORTS_PER_OWNER=3): "
        f"trigger again once one of them has started, in about {refused.retry_after} seconds."
    )
    assert Report.objects.count() == 3


def test_the_cap_is_five_pending_reports_by_default(admit, two_owners):
    pending(two_owners.owner_a, 4)
    admit(two_owners.user_a)
    assert refusal(admit, two_owners.user_a, method="nearest").status_code == 429
    assert Report.objects.filter(owner=two_owners.owner_a, status="Pending").count() == 5


def test_the_cap_counts_each_owner_apart_and_every_stores_reports_as_one_group(admit, settings, two_owners):
    settings.MAX_PENDING_REPORTS_PER_OWNER = 2
    pending(two_owners.owner_a, 2)
    assert refusal(admit, two_owners.user_a).status_code == 429
    assert admit(two_owners.user_b).report.owner == two_owners.owner_b
    assert admit(two_owners.staff).report.owner is None
    # Staff naming owner A count in A's group.
    assert refusal(admit, two_owners.staff, owner="alpha").status_code == 429
    pending(None, 1)
    settings.ALLOW_ANONYMOUS = True
    every_store = refusal(admit, method="nearest")  # anonymous: the same all-stores group as staff
    assert every_store.status_code == 429
    assert every_store.sentence.startswith("2 reports of all stores are already Pending")


def test_running_and_finished_reports_do_not_count_toward_the_cap(admit, settings, two_owners):
    settings.MAX_PENDING_REPORTS_PER_OWNER = 1
    for status in ("Running", "Complete", "Failed"):
        pending(two_owners.owner_a, 2, status=status)
    assert not admit(two_owners.user_a).existing


def test_an_identical_pending_report_is_handed_back_even_at_the_cap(admit, settings, two_owners):
    settings.MAX_PENDING_REPORTS_PER_OWNER = 1
    first = admit(two_owners.user_a).report
    assert admit(two_owners.user_a).report == first


# --- Retry-After of the cap ---------------------------------------------------------------


def completed_runs(*seconds):
    finished = timezone.now()
    for n, duration in enumerate(seconds):
        end = finished - dt.timedelta(minutes=n)
        Report.objects.create(status="Complete", started_at=end - dt.timedelta(seconds=duration), finished_at=end)


def test_retry_after_is_the_queue_ahead_over_the_workers_times_the_median_run(settings, two_owners):
    settings.Q_CLUSTER = {**settings.Q_CLUSTER, "workers": 2}
    completed_runs(30, 40, 500)  # median 40 s
    pending(None, 3)  # every store's, queued before owner A's
    pending(None, 2, status="Running")
    pending(two_owners.owner_a, 2)
    # Ahead of A's oldest: 2 running + 3 pending = 5; it starts once 4 of them are done, 2 at a time.
    assert pending_retry_after(two_owners.owner_a) == 2 * 40


def test_retry_after_assumes_a_minute_per_run_before_any_completed(settings, two_owners):
    settings.Q_CLUSTER = {**settings.Q_CLUSTER, "workers": 1}
    pending(None, 2, status="Running")
    pending(two_owners.owner_a, 1)
    assert pending_retry_after(two_owners.owner_a) == 2 * ASSUMED_RUN_SECONDS


def test_retry_after_is_bounded(settings, two_owners):
    settings.Q_CLUSTER = {**settings.Q_CLUSTER, "workers": 1}
    pending(two_owners.owner_a, 1)
    # A free worker: the report starts at once, but a client is not told to retry at once.
    assert pending_retry_after(two_owners.owner_a) == RETRY_AFTER_MIN_SECONDS
    completed_runs(3000)
    pending(None, 5, status="Running")
    assert pending_retry_after(two_owners.owner_a) == RETRY_AFTER_MAX_SECONDS


# --- The rate limit -----------------------------------------------------------------------


def test_a_user_beyond_the_rate_is_refused_with_429_and_retry_after(admit, settings, two_owners):
    settings.REPORT_TRIGGER_RATE = "2/minute"
    admit(two_owners.user_a, method="last_known")
    admit(two_owners.user_a, method="nearest")
    refused = refusal(admit, two_owners.user_a, columns="extended")
    assert refused.status_code == 429
    assert 1 <= refused.retry_after <= 60
    assert refused.sentence == (
        "Too many reports triggered: at most 2 per minute per user (REPORT_TRIGGER_RATE=2/minute). "
        f"Try again in {refused.retry_after} second{'s' if refused.retry_after != 1 else ''}."
    )
    assert Report.objects.count() == 2


def test_handed_back_reports_count_toward_the_rate(admit, settings, two_owners):
    settings.REPORT_TRIGGER_RATE = "2/hour"
    admit(two_owners.user_a)
    admit(two_owners.user_a)
    assert refusal(admit, two_owners.user_a).status_code == 429


def test_refused_owner_choices_do_not_count_toward_the_rate(admit, settings, two_owners):
    settings.REPORT_TRIGGER_RATE = "1/hour"
    refusal(admit, two_owners.user_a, owner="beta")
    assert admit(two_owners.user_a).report.owner == two_owners.owner_a


def test_users_are_counted_apart_whatever_their_address(admit, settings, two_owners):
    settings.REPORT_TRIGGER_RATE = "1/hour"
    admit(two_owners.user_a, ip="10.0.0.1")
    assert refusal(admit, two_owners.user_a, ip="10.0.0.2", method="nearest").status_code == 429
    assert admit(two_owners.user_b, ip="10.0.0.1").report.owner == two_owners.owner_b


def test_anonymous_callers_are_counted_per_ip_address(admit, settings, two_owners):
    settings.ALLOW_ANONYMOUS = True
    settings.REPORT_TRIGGER_RATE = "1/hour"
    admit(ip="10.0.0.1")
    refused = refusal(admit, ip="10.0.0.1", method="nearest")
    assert refused.status_code == 429
    assert "per IP address for callers who are not signed in" in refused.sentence
    assert not admit(ip="10.0.0.2", method="nearest").existing


def test_a_forged_forwarded_for_header_does_not_reset_an_anonymous_callers_count(admit, settings, two_owners):
    settings.ALLOW_ANONYMOUS = True
    settings.REPORT_TRIGGER_RATE = "1/hour"
    admit(ip="10.0.0.1", HTTP_X_FORWARDED_FOR="1.1.1.1")
    assert refusal(admit, ip="10.0.0.1", method="nearest", HTTP_X_FORWARDED_FOR="2.2.2.2").status_code == 429


def test_behind_a_proxy_the_forwarded_address_is_the_one_counted(admit, settings, two_owners):
    settings.ALLOW_ANONYMOUS = True
    settings.REPORT_TRIGGER_RATE = "1/hour"
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
    admit(ip="10.9.9.9", HTTP_X_FORWARDED_FOR="1.1.1.1")
    assert not admit(ip="10.9.9.9", method="nearest", HTTP_X_FORWARDED_FOR="2.2.2.2").existing
    assert refusal(admit, ip="10.9.9.9", columns="extended", HTTP_X_FORWARDED_FOR="1.1.1.1").status_code == 429
