# The unmanaged model only (no SQL): Outpost's schema belongs to `outpost migrate`.
from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True
    dependencies = []

    operations = [
        migrations.CreateModel(
            name="Message",
            fields=[
                ("id", models.BigIntegerField(primary_key=True, serialize=False)),
                ("kind", models.TextField()),
                ("status", models.TextField()),
                ("to_user", models.TextField(null=True)),
                ("to_address", models.TextField(null=True)),
                ("template", models.TextField(null=True)),
                ("subject", models.TextField(null=True)),
                ("locale", models.TextField(null=True)),
                ("provider", models.TextField(null=True)),
                ("tenant", models.TextField(null=True)),
                ("priority", models.SmallIntegerField()),
                ("attempts", models.IntegerField()),
                ("max_attempts", models.IntegerField(null=True)),
                ("provider_message_id", models.TextField(null=True)),
                ("last_error", models.TextField(null=True)),
                ("worker", models.TextField(null=True)),
                ("run_at", models.DateTimeField()),
                ("expires_at", models.DateTimeField(null=True)),
                ("created_at", models.DateTimeField()),
                ("updated_at", models.DateTimeField()),
                ("sent_at", models.DateTimeField(null=True)),
                ("finished_at", models.DateTimeField(null=True)),
            ],
            options={
                "verbose_name": "message",
                "db_table": 'outpost"."messages',
                "ordering": ("-id",),
                "managed": False,
            },
        ),
    ]
