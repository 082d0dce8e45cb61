"""Store.last_polled_at: each store's newest poll, kept by the loaders, filled here from the polls.

The backfill is one UPDATE whose subquery reads each store's newest poll from the end of its
(store, timestamp) unique index: a few index probes per store, never a sort of the polls.
"""

from django.db import migrations, models

BACKFILL = (
    "UPDATE monitoring_store SET last_polled_at = ("
    " SELECT max(p.timestamp_utc) FROM monitoring_statuspoll p WHERE p.store_id = monitoring_store.id)"
)


class Migration(migrations.Migration):
    dependencies = [
        ("monitoring", "0004_import_ledger"),
    ]

    operations = [
        migrations.AddField(
            model_name="store",
            name="last_polled_at",
            field=models.DateTimeField(blank=True, db_index=True, null=True),
        ),
        migrations.RunSQL(BACKFILL, reverse_sql=migrations.RunSQL.noop, elidable=True),
    ]
