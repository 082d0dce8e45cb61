"""The alerts' API and pages; storemonitor.urls includes them at the root."""

from django.urls import path

from alerts import api, views

urlpatterns = [
    path("api/incidents/", api.IncidentListView.as_view(), name="incident-list"),
    path("api/incidents/<int:pk>/", api.IncidentDetailView.as_view(), name="incident-detail"),
    path("api/channels/", api.ChannelListView.as_view(), name="channel-list"),
    path("api/channels/<int:pk>/", api.ChannelDetailView.as_view(), name="channel-detail"),
    path("api/channels/<int:pk>/test", api.ChannelTestView.as_view(), name="channel-test"),
    path("notifications/", views.notifications, name="notifications"),
    # The page's forms (POST, CSRF): each answers with the page again or a redirect to it.
    path("notifications/channels/", views.add_channel, name="notifications-add-channel"),
    path("notifications/channels/<int:pk>/test", views.test_channel, name="notifications-test-channel"),
    path("notifications/channels/<int:pk>/toggle", views.toggle_channel, name="notifications-toggle-channel"),
    path("notifications/channels/<int:pk>/delete", views.delete_channel, name="notifications-delete-channel"),
    path("notifications/schedule", views.save_schedule, name="notifications-schedule"),
]
