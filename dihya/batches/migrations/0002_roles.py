"""Operators see batches and their files, and may cancel a batch (dihya.console.roles)."""

from django.db import migrations

from dihya.console.migrations._roles import forwards


class Migration(migrations.Migration):
    dependencies = [
        ("batches", "0001_initial"),
        ("console", "0001_roles"),
    ]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
