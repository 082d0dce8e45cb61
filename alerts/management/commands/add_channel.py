from django.core.management.base import CommandError

from alerts.channels import ChannelError, add_channel, describe_test
from alerts.delivery import send_test
from alerts.models import Channel
from storemonitor.commands import ProjectCommand


def minutes(text: str) -> int:
    """An argparse ``type`` for 0 or more minutes."""
    value = int(text)
    if value < 0:
        raise ValueError(text)
    return value


class Command(ProjectCommand):
    help = (
        "Add a notification channel to the owner SLUG: a signed webhook (--webhook URL; without --secret a "
        "secret is generated and printed once), an email address (--email) or an Apprise URL (--apprise, e.g. "
        "slack://…, tgram://…). --test sends a test notification and prints what came back."
    )

    def add_arguments(self, parser):
        parser.add_argument("--owner", required=True, metavar="SLUG", help="the owner's slug")
        target = parser.add_mutually_exclusive_group(required=True)
        target.add_argument("--webhook", metavar="URL", help="POST signed JSON to this http(s) URL")
        target.add_argument("--email", metavar="ADDRESS", help="send emails to this address")
        target.add_argument("--apprise", metavar="URL", help="send through Apprise to this service URL")
        parser.add_argument("--secret", default="", metavar="S", help="webhooks: the signing secret (default: new)")
        parser.add_argument("--name", default="", metavar="N", help="a name to tell the channel by")
        parser.add_argument(
            "--grace-minutes",
            type=minutes,
            default=0,
            metavar="N",
            help="announce an incident only once it has lasted N minutes (default 0)",
        )
        parser.add_argument(
            "--quiet-store", nargs="+", default=[], metavar="STORE_ID", help="never announce these stores' incidents"
        )
        parser.add_argument("--no-incidents", action="store_true", help="do not send incident notifications")
        parser.add_argument("--no-reports", action="store_true", help="do not send report.ready")
        parser.add_argument("--test", action="store_true", help="send a test notification once it is added")

    def handle(self, *args, **options):
        kind, target = next(
            (kind, options[kind])
            for kind in (Channel.Kind.WEBHOOK, Channel.Kind.EMAIL, Channel.Kind.APPRISE)
            if options[kind]
        )
        try:
            new = add_channel(
                options["owner"],
                kind=kind,
                target=target,
                secret=options["secret"],
                name=options["name"],
                grace_minutes=options["grace_minutes"],
                quiet_store_ids=options["quiet_store"],
                notify_incidents=not options["no_incidents"],
                notify_reports=not options["no_reports"],
            )
        except ChannelError as error:
            raise CommandError(str(error)) from error
        channel = new.channel
        self.stdout.write(
            f"Channel {channel.pk} added to {channel.owner.slug}: {channel.get_kind_display()} {channel}."
        )
        if kind == Channel.Kind.WEBHOOK and not options["secret"]:
            self.stdout.write(f"Its signing secret (shown this once; keep it with the receiver): {new.secret}")
        if options["test"]:
            attempt = send_test(channel)
            if not attempt.ok:
                raise CommandError(
                    f"{describe_test(attempt)} The channel is added all the same (id {channel.pk}): fix the "
                    "receiver, then send a test from the admin's Channels page."
                )
            self.stdout.write(describe_test(attempt))
