"""monitoring.access: who sees which stores, and which owner a report covers."""

import pytest
from django.contrib.auth.models import AnonymousUser

from monitoring.access import OwnerChoiceError, report_owner_for, sees_all_stores, visible_stores
from tests.factories import OwnerFactory


def store_ids(user):
    return sorted(visible_stores(user).values_list("store_id", flat=True))


def test_an_owners_user_sees_that_owners_stores_only(two_owners):
    assert store_ids(two_owners.user_a) == ["store-a"]
    assert store_ids(two_owners.user_b) == ["store-b"]


def test_staff_see_every_store_including_those_without_an_owner(two_owners):
    assert store_ids(two_owners.staff) == ["store-a", "store-b", "store-none"]
    assert sees_all_stores(two_owners.staff)


def test_a_user_of_two_owners_sees_both(two_owners):
    two_owners.owner_b.users.add(two_owners.user_a)
    assert store_ids(two_owners.user_a) == ["store-a", "store-b"]


@pytest.mark.parametrize(("allowed", "expected"), [(True, ["store-a", "store-b", "store-none"]), (False, [])])
def test_anonymous_callers_see_every_store_only_while_allowed(two_owners, settings, allowed, expected):
    settings.ALLOW_ANONYMOUS = allowed
    assert store_ids(AnonymousUser()) == expected


def test_a_report_of_a_user_of_one_owner_covers_that_owner(two_owners):
    assert report_owner_for(two_owners.user_a, None) == two_owners.owner_a
    assert report_owner_for(two_owners.user_a, "alpha") == two_owners.owner_a


def test_another_owners_slug_is_refused_exactly_as_an_unknown_one(two_owners):
    with pytest.raises(OwnerChoiceError) as other:
        report_owner_for(two_owners.user_a, "beta")
    with pytest.raises(OwnerChoiceError) as unknown:
        report_owner_for(two_owners.user_a, "gamma")
    assert str(other.value) == "No owner has the slug 'beta'."
    assert str(unknown.value) == "No owner has the slug 'gamma'."


def test_a_user_of_several_owners_must_name_one(two_owners):
    two_owners.owner_b.users.add(two_owners.user_a)
    with pytest.raises(OwnerChoiceError, match=r"several owners \(alpha, beta\): pass owner"):
        report_owner_for(two_owners.user_a, None)
    assert report_owner_for(two_owners.user_a, "beta") == two_owners.owner_b


def test_staff_reports_cover_every_store_unless_an_owner_is_named(two_owners):
    assert report_owner_for(two_owners.staff, None) is None
    assert report_owner_for(two_owners.staff, "beta") == two_owners.owner_b


def test_a_user_of_no_owner_cannot_report(db):
    from tests.factories import UserFactory

    with pytest.raises(OwnerChoiceError, match="belongs to no owner"):
        report_owner_for(UserFactory(), None)


def test_owners_are_listed_by_slug(db):
    OwnerFactory(slug="zeta")
    OwnerFactory(slug="alpha")
    from monitoring.models import Owner

    assert list(Owner.objects.values_list("slug", flat=True)) == ["alpha", "zeta"]


def test_feeds_come_in_from_staff_or_users_given_the_ingest_permission(two_owners, settings):
    from django.contrib.auth.models import Permission

    from monitoring.access import may_assign_owners, may_ingest

    settings.ALLOW_ANONYMOUS = True
    assert may_ingest(two_owners.staff)
    assert may_assign_owners(two_owners.staff)
    assert not may_ingest(two_owners.user_a)
    assert not may_ingest(AnonymousUser())  # whatever ALLOW_ANONYMOUS says

    two_owners.user_a.user_permissions.add(Permission.objects.get(codename="ingest_feeds"))
    integration = type(two_owners.user_a).objects.get(pk=two_owners.user_a.pk)  # a fresh permission cache
    assert may_ingest(integration)
    assert not may_assign_owners(integration)  # owners decide who sees what: staff only

    integration.is_active = False
    assert not may_ingest(integration)
