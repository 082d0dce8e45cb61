from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts and API tokens"
    # The token's OpenAPI security scheme is registered by accounts.api_docs, which the schema's
    # URLs import: here it would load drf-spectacular (a tenth of a second) into every command.
