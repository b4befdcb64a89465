"""Auditors (a data-protection officer) may read the people list and person pages
(dihya.console.roles: "auth.user" view); the groups are brought up to date by the same function."""

from django.db import migrations

from dihya.console.migrations._roles import forwards


class Migration(migrations.Migration):
    dependencies = [("console", "0001_roles")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
