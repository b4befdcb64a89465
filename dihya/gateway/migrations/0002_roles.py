"""Once created the console's roles; the console app's migrations do that now
(dihya/console/migrations), so that the gateway's migrations import nothing of the console.
Kept, doing nothing, so that databases that applied it keep a consistent history."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("gateway", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("fallbacks", "0002_resilience"),
        ("quotas", "0001_initial"),
        ("audit", "0001_initial"),
    ]

    operations = [migrations.RunPython(migrations.RunPython.noop, migrations.RunPython.noop)]
