from django.apps import AppConfig


class MonitoringConfig(AppConfig):
    name = "monitoring"
    verbose_name = "Store monitoring"

    def ready(self):
        from django.db.models.signals import post_migrate

        from monitoring import retention_tasks, tasks

        # The daily poll prune (deleted when POLL_RETENTION_DAYS is 0).
        post_migrate.connect(
            retention_tasks.ensure_poll_retention_schedule,
            sender=self,
            dispatch_uid="monitoring.poll_retention_schedule",
        )
        # The watched folder's schedule (deleted when INCOMING_DIR is not set).
        post_migrate.connect(tasks.ensure_incoming_schedule, sender=self, dispatch_uid="monitoring.incoming_schedule")
