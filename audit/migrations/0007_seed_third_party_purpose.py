"""Seed the `third-party-engines` purpose (lawful egress): a person who has not agreed to it
is served only by self-hosted engines, for clients that serve end users."""

from django.db import migrations

from audit import policies


def seed(apps, schema_editor):
    Purpose = apps.get_model("audit", "Purpose")
    Purpose.objects.get_or_create(slug="third-party-engines", defaults={
        "title": policies.THIRD_PARTY_TITLE, "policy": policies.THIRD_PARTY_POLICY,
        "version": 1})


class Migration(migrations.Migration):
    dependencies = [("audit", "0006_person_per_client")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
