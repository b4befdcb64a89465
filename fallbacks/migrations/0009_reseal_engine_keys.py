"""Engine keys sealed with the shared key of before move to their own purpose's key.

Until now engine keys and clients' signing secrets were sealed with one key; each purpose now
has its own (`dihya.lib.sealing`). A row neither key opens is left as it is (it could not be
opened before either; `manage.py rotate_keys` names it). Never prints a secret.
"""

from django.conf import settings
from django.db import migrations

from dihya.lib import sealing


def move(convert):
    def run(apps, schema_editor):
        Engine = apps.get_model("fallbacks", "Engine")
        rows = Engine.objects.using(schema_editor.connection.alias).exclude(api_key_encrypted="")
        for pk, token in rows.values_list("pk", "api_key_encrypted"):
            fresh = convert(sealing.ENGINE_KEYS, token, settings.DIHYA_ENCRYPTION_KEY,
                            settings.SECRET_KEY)
            if fresh is not None and fresh != token:
                rows.filter(pk=pk, api_key_encrypted=token).update(api_key_encrypted=fresh)
    return run


class Migration(migrations.Migration):

    dependencies = [
        ('fallbacks', '0008_engine_egress'),
    ]

    operations = [
        migrations.RunPython(move(sealing.from_legacy), move(sealing.to_legacy), elidable=True),
    ]
