"""Operators read the delivery log (gateway.Delivery) instead of quotas' alert deliveries."""

from django.db import migrations

from dihya.gateway.migrations import _roles


class Migration(migrations.Migration):
    dependencies = [
        ("gateway", "0005_delivery"),
        ("quotas", "0002_delete_alertdelivery"),
    ]

    operations = [migrations.RunPython(_roles.forwards, migrations.RunPython.noop)]
