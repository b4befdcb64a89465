"""Clients' signing secrets sealed with the shared key of before move to their purpose's key.

Until now engine keys and clients' signing secrets were sealed with one key; each purpose now
has its own (`dihya.lib.sealing`). A row neither key opens is left as it is (it could not be
opened before either; `manage.py rotate_keys` names it). Never prints a secret.
"""

from django.conf import settings
from django.db import migrations

from dihya.lib import sealing


def move(convert):
    def run(apps, schema_editor):
        ApiClient = apps.get_model("gateway", "ApiClient")
        rows = ApiClient.objects.using(schema_editor.connection.alias).exclude(signing_secret="")
        for pk, token in rows.values_list("pk", "signing_secret"):
            fresh = convert(sealing.SIGNING_SECRETS, token, settings.DIHYA_ENCRYPTION_KEY,
                            settings.SECRET_KEY)
            if fresh is not None and fresh != token:
                rows.filter(pk=pk, signing_secret=token).update(signing_secret=fresh)
    return run


class Migration(migrations.Migration):

    dependencies = [
        ('gateway', '0016_client_residency'),
    ]

    operations = [
        migrations.RunPython(move(sealing.from_legacy), move(sealing.to_legacy), elidable=True),
    ]
