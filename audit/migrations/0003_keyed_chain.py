"""Key the audit chain: events get a scheme, a personal digest and, for the old ones, a seal.

The events already written are scheme 1 (SHA-256 over all their content, chained with plain
SHA-256) and keep every byte: `audit verify` goes on checking them that way. Each also gets a
`seal`, HMAC-SHA256 under DIHYA_AUDIT_KEY (or the key derived from SECRET_KEY) of its hash,
its public fields and whether it was erased, so that from now on an old event cannot be edited
or recomputed, nor a new one rewritten as an old one, without the key. Run it with the key the
application will use. Going back is refused once keyed events exist: the old code could not
verify them.
"""

from django.db import migrations, models

BATCH = 2000


def seal(apps, schema_editor):
    from audit import log

    AuditEvent = apps.get_model("audit", "AuditEvent")
    key = log.chain_key()
    last = 0
    while True:
        rows = list(AuditEvent.objects.filter(pk__gt=last, scheme=1).order_by("pk")[:BATCH])
        for event in rows:
            event.seal = log.legacy_seal(event, event.erased is not None, key)
        AuditEvent.objects.bulk_update(rows, ["seal"])
        if len(rows) < BATCH:
            return
        last = rows[-1].pk


def refuse_if_keyed(apps, schema_editor):
    AuditEvent = apps.get_model("audit", "AuditEvent")
    if AuditEvent.objects.exclude(scheme=1).exists():
        raise RuntimeError("The audit log holds keyed (scheme 2) events, which the code before "
                           "migration audit 0003 cannot verify: not going back.")


class Migration(migrations.Migration):
    dependencies = [("audit", "0002_seed_generation_purpose")]

    operations = [
        # Existing rows are scheme 1; rows written from now on, 2.
        migrations.AddField(
            model_name="auditevent", name="scheme",
            field=models.PositiveSmallIntegerField(default=1)),
        migrations.AlterField(
            model_name="auditevent", name="scheme",
            field=models.PositiveSmallIntegerField(
                default=2,
                help_text="How it is chained: 2 keyed, 1 written before the chain had a key.")),
        migrations.AddField(
            model_name="auditevent", name="personal_digest",
            field=models.CharField(
                blank=True, default="", max_length=64,
                help_text="Scheme 2: of subject, actor, details and salt."),
            preserve_default=False),
        migrations.AddField(
            model_name="auditevent", name="seal",
            field=models.CharField(
                blank=True, default="", max_length=64,
                help_text="Scheme 1: keyed seal of the hash and public fields, made by "
                          "migration 0003."),
            preserve_default=False),
        migrations.AlterField(
            model_name="auditevent", name="content_digest",
            field=models.CharField(
                max_length=64,
                help_text="Scheme 2: of the public fields, which erasure keeps. Scheme 1: of all "
                          "the content.")),
        migrations.RunPython(seal, refuse_if_keyed),
    ]
