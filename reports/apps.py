from django.apps import AppConfig
from django.db.models.signals import post_migrate


class ReportsConfig(AppConfig):
    name = "reports"
    verbose_name = "Uptime reports"

    def ready(self):
        from django_q.signals import post_spawn

        from reports import tasks, worker_signals

        post_spawn.connect(
            worker_signals.install_worker_signal_handlers, dispatch_uid="reports.install_worker_signal_handlers"
        )
        post_spawn.connect(tasks.recover_on_worker_start, dispatch_uid="reports.recover_on_worker_start")
        post_migrate.connect(tasks.ensure_recovery_schedule, sender=self, dispatch_uid="reports.recovery_schedule")
        post_migrate.connect(tasks.ensure_prune_schedule, sender=self, dispatch_uid="reports.prune_schedule")
