"""URLs of the feeds' push API and the import ledger; storemonitor.urls includes them at the root."""

from django.urls import path

from monitoring.api import PUSH_VIEWS, ImportViewSet
from monitoring.ingestion import Feed

import_list = ImportViewSet.as_view({"get": "list"})
import_detail = ImportViewSet.as_view({"get": "retrieve"})

urlpatterns = [
    path("api/imports/", import_list, name="import-list"),
    path("api/imports/<int:pk>/", import_detail, name="import-detail"),
]
for feed in Feed:
    view = PUSH_VIEWS[feed].as_view()
    # With and without the trailing slash: a POST cannot follow APPEND_SLASH's redirect. The
    # schema lists the slash-less form only.
    urlpatterns += [
        path(f"api/feeds/{feed.value}", view, name=f"feed-push-{feed.value}"),
        path(f"api/feeds/{feed.value}/", view),
    ]
