"""Fixtures of the account tests."""

import pytest
from rest_framework.test import APIClient

from accounts.tokens import create_api_token
from tests.factories import UserFactory

PASSWORD = "a long enough test password"  # tests.factories.UserFactory's


@pytest.fixture
def signed_in_only(settings):
    """Anonymous access off, as in production."""
    settings.ALLOW_ANONYMOUS = False
    return settings


@pytest.fixture
def alice(db):
    return UserFactory(username="alice")


@pytest.fixture
def alice_token(alice):
    """(row, token) of a token of alice's."""
    return create_api_token(alice, "laptop script")


@pytest.fixture
def api():
    return APIClient()
