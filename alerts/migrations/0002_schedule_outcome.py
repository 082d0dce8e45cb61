from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("alerts", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="reportschedule",
            name="last_outcome",
            field=models.CharField(blank=True, max_length=500),
        ),
    ]
