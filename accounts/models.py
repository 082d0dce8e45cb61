"""API tokens: knox's hashed token with a name and the time it was last used."""

from django.db import models
from knox.models import AbstractAuthToken

TOKEN_NAME_MAX_LENGTH = 100


class ApiToken(AbstractAuthToken):
    """A user's API token. The database holds only knox's SHA-512 ``digest`` of the token and its
    first 15 characters (``token_key``, to find the row); the token itself is shown once, when it
    is created. Revoking a token deletes its row."""

    name = models.CharField(
        max_length=TOKEN_NAME_MAX_LENGTH, help_text="What the token is for, e.g. the script that uses it."
    )
    # Updated at most once a minute (accounts.tokens.record_use), so it is "last used" to the minute.
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "API token"
        ordering = ["-created"]
        constraints = [models.UniqueConstraint(fields=["user", "name"], name="api_token_name_unique_per_user")]

    def __str__(self) -> str:
        return f"{self.name} ({self.token_key}…)"
