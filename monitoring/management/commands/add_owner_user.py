from django.core.management.base import CommandError

from monitoring.owners import OwnerUserError, add_owner_user
from storemonitor.commands import ProjectCommand


class Command(ProjectCommand):
    help = (
        "Make USERNAME a user of the owner OWNER_SLUG, so that it sees that owner's stores: the user "
        "is created if needed, without a password (set one with manage.py changepassword USERNAME). "
        "An unknown owner is an error unless --create-owner names it. Running it again changes nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "owner_slug", metavar="OWNER_SLUG", help="the owner's slug (or name), as in store_owners.csv"
        )
        parser.add_argument("username", metavar="USERNAME", help="the user's name; created if there is none")
        parser.add_argument("--email", metavar="E", help="the email of a user created now (or of one without)")
        parser.add_argument(
            "--create-owner",
            metavar="NAME",
            help="create the owner with this name (and OWNER_SLUG) if it does not exist",
        )

    def handle(self, *args, owner_slug, username, email, create_owner, **options):
        try:
            added = add_owner_user(owner_slug, username, email=email, create_owner=create_owner)
        except OwnerUserError as error:
            raise CommandError(str(error)) from error
        for line in added.describe():
            self.stdout.write(line)
