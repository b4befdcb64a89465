"""The roles' groups with their permissions, for the migrations that (re)create them."""

from django.contrib.auth.management import create_permissions


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
