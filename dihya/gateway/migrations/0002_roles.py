"""Create the console's roles (Operators, Auditors) as groups with their permissions."""

from django.db import migrations

from dihya.gateway.migrations._roles import forwards


def backwards(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=["Operators", "Auditors"]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("gateway", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("fallbacks", "0002_resilience"),  # BreakerState, viewed by Operators
        ("quotas", "0001_initial"),
        ("audit", "0001_initial"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
