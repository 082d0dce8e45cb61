"""The import ledger in the admin: a read-only list with filters, and each row's details."""

import pytest
from django.urls import reverse

from monitoring.imports import import_feeds
from monitoring.ingestion import Feed, IngestionError
from monitoring.models import Import
from tests.monitoring.csv_files import polls_file

LIST = reverse("admin:monitoring_import_changelist")

pytestmark = pytest.mark.django_db


@pytest.fixture
def ledger(tmp_path):
    good = polls_file(tmp_path, ["1,active,2023-01-25 18:13:22 UTC"], name="good.csv")
    bad = polls_file(tmp_path, ["1,sleeping,2023-01-25 18:13:22 UTC"], name="bad.csv")
    import_feeds({Feed.POLLS: good}, source=Import.Source.COMMAND)
    with pytest.raises(IngestionError):
        import_feeds({Feed.POLLS: bad}, source=Import.Source.API)
    return Import.objects.get(name="good.csv"), Import.objects.get(name="bad.csv")


def test_the_list_shows_every_load_and_filters_by_status_and_source(admin_client, ledger):
    good, bad = ledger
    page = admin_client.get(LIST).content.decode()
    assert "good.csv" in page
    assert "bad.csv" in page

    failed = admin_client.get(LIST, {"status__exact": "failed"}).content.decode()
    assert "bad.csv" in failed
    assert "good.csv" not in failed
    pushed = admin_client.get(LIST, {"source__exact": "api"}).content.decode()
    assert "bad.csv" in pushed
    assert "good.csv" not in pushed


def test_a_row_shows_its_error_and_cannot_be_changed_or_added(admin_client, ledger):
    _, bad = ledger
    page = admin_client.get(reverse("admin:monitoring_import_change", args=[bad.pk])).content.decode()
    assert "bad.csv line 2, field status" in page
    assert 'name="_save"' not in page
    assert admin_client.get(reverse("admin:monitoring_import_add")).status_code == 403


def test_the_ledger_is_searched_by_name_or_digest(admin_client, ledger):
    good, _ = ledger
    found = admin_client.get(LIST, {"q": good.sha256}).content.decode()
    assert "good.csv" in found
    assert "bad.csv" not in found
