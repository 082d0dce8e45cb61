"""The alerts in the Django admin: incidents, channels with their deliveries and attempts,
scheduled reports."""

from django.contrib import admin  # noqa: F401

# --- Incidents ------------------------------------------------------------------------------

# --- Channels, deliveries and attempts ------------------------------------------------------

# --- Scheduled reports ----------------------------------------------------------------------
