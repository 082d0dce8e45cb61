"""``manage.py qcluster``: django-q2's command, with a cluster that stops within seconds when told.

It takes the place of django-q2's own command (the reports app comes first in INSTALLED_APPS)
and keeps its options; see ``reports.cluster`` for why and how it stops.
"""

import os

from django.conf import settings
from django_q.management.commands.qcluster import Command as DjangoQClusterCommand

from reports.cluster import run_cluster


class Command(DjangoQClusterCommand):
    help = (
        "Starts the job cluster (django-q2). SIGTERM, SIGINT or SIGHUP stop it within seconds; reports its "
        "workers were running go back to the queue."
    )

    def handle(self, *args, **options):
        if options.get("run_once"):
            return super().handle(*args, **options)  # starts and stops at once: nothing to guard
        settings.SECRET_KEY  # noqa: B018 - refuse to start without it, as django-q2 does (it signs tasks)
        if options.get("cluster_name"):
            # As django-q2's command does: the cluster (and its broker's queue) takes this name.
            os.environ["Q_CLUSTER_NAME"] = options["cluster_name"]
        raise SystemExit(run_cluster())
