import datetime as dt

from django.core.management.base import CommandError

from accounts.tokens import TokenError, create_api_token_for_username, default_token_name
from storemonitor.commands import ProjectCommand, positive_int


class Command(ProjectCommand):
    help = (
        "Create an API token for USERNAME and print it alone on the last line (for scripts: "
        "`manage.py create_api_token alice | tail -n 1`). The token is stored hashed: this is the only "
        "time it is shown. Use it as the header Authorization: Token <token>."
    )

    def add_arguments(self, parser):
        parser.add_argument("username", help="the user the token acts as")
        parser.add_argument(
            "--name", help="what the token is for, unique among the user's tokens (default: the date and time)"
        )
        parser.add_argument(
            "--expires-in-days",
            type=positive_int,
            metavar="DAYS",
            help="the token stops working after this many days (default: never, until revoked)",
        )

    def handle(self, *args, username, name, expires_in_days, **options):
        name = name if name is not None else default_token_name(username)
        expires_in = dt.timedelta(days=expires_in_days) if expires_in_days else None
        try:
            token, secret = create_api_token_for_username(username, name, expires_in)
        except TokenError as error:
            raise CommandError(str(error)) from error
        lifetime = f"expires {token.expiry:%Y-%m-%d %H:%M} UTC" if token.expiry else "never expires"
        self.stdout.write(
            f"API token {token.name!r} for user {username!r} ({lifetime}; lookup prefix {token.token_key})."
        )
        self.stdout.write("It is shown only now; send it as the header Authorization: Token <token>:")
        self.stdout.write(secret)
