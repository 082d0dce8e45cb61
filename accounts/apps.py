from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts and API tokens"

    def ready(self):
        # Registers the token's OpenAPI security scheme with drf-spectacular.
        from accounts import schema  # noqa: F401
