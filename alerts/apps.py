from django.apps import AppConfig
from django.db.models.signals import post_migrate


class AlertsConfig(AppConfig):
    name = "alerts"
    verbose_name = "Alerts"

    def ready(self):
        from alerts import tasks
        from monitoring.signals import feeds_imported
        from reports.signals import report_completed

        feeds_imported.connect(tasks.reconcile_after_import, dispatch_uid="alerts.reconcile_after_import")
        report_completed.connect(tasks.notify_report_completed, dispatch_uid="alerts.notify_report_completed")
        post_migrate.connect(tasks.ensure_sweep_schedule, sender=self, dispatch_uid="alerts.sweep_schedule")
