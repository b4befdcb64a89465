"""Create (or bring up to date) the console's roles: Operators and Auditors as groups with
exactly their permissions (dihya.console.roles). A later change of roles adds a migration
calling the same function."""

from django.db import migrations

from dihya.console.migrations._roles import backwards, forwards


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("gateway", "0005_delivery"),
        ("fallbacks", "0002_resilience"),
        ("quotas", "0002_delete_alertdelivery"),
        ("audit", "0001_initial"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
