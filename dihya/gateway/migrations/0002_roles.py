"""Create the console's roles (Operators, Auditors) as groups with their permissions."""

from django.contrib.auth.management import create_permissions
from django.db import migrations


def forwards(apps, schema_editor):
    from dihya.console import roles

    # Permissions are normally created after all migrations; create them now so the groups
    # can hold them on a fresh database.
    for app_config in apps.get_app_configs():
        models_module = getattr(app_config, "models_module", None)  # unset on migration stubs
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = models_module
    roles.ensure(apps)


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
