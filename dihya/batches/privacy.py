"""What batches hold about people: their lines' prompts and answers.

A line names its person by `user` (at its client), or by the generation it ran. Erasure
blanks the line's body and answer (the counts stay, the line stays in its batch as
`erased`) and the line in the input file it came from; retention deletes batches, their
lines and files DIHYA_RETENTION_DAYS["batch"] days after creation (input files unused by
an open batch too).
"""

from __future__ import annotations

import json
from typing import Any

from django.db.models import Q

from audit import identities
from dihya.batches.models import Batch, BatchFile, BatchLine
from dihya.privacy import erasure
from dihya.privacy.erasure import Person, Retention

ERASED = {"erased": True}


def lines_of(p: Person) -> Any:
    """The person's lines: those that ran as their generations, and those not run yet that
    name them by an id they have at that client (ids are per client: the same string at
    another client is another person). Only the client's own when the request is scoped."""
    mine = Q(generation_id__in=p.generation_ids)
    for client_id, external_id in identities.client_ids_of(p.user):
        mine |= (Q(client__end_users=True, end_user=external_id) if client_id is None
                 else Q(client_id=client_id, client__end_users=True, end_user=external_id))
    lines = BatchLine.objects.filter(mine)
    return lines if p.client is None else lines.filter(client=p.client)


def collect(p: Person) -> list[dict[str, Any]]:
    return [{"batch": line.batch_id, "custom_id": line.custom_id, "client": line.client_id,
             "user": line.end_user, "status": line.status, "request": line.body,
             "response": line.response, "generation": str(line.generation_id or "") or None}
            for line in lines_of(p).order_by("batch_id", "position")]


def erase(p: Person) -> int:
    lines = list(lines_of(p).filter(erased=False).values_list("pk", "batch_id", "custom_id"))
    by_file: dict[str, set[str]] = {}
    for batch_id, input_file_id in Batch.objects.filter(
            pk__in={b for _, b, _ in lines}).values_list("pk", "input_file_id"):
        if input_file_id:
            by_file.setdefault(input_file_id, set()).update(
                c for _, b, c in lines if b == batch_id)
    for f in BatchFile.objects.filter(pk__in=by_file):
        f.content = blanked(f.content, by_file[f.pk])
        f.save(update_fields=["content"])
    return BatchLine.objects.filter(pk__in=[pk for pk, _, _ in lines]).update(
        body=ERASED, response=ERASED, end_user="", erased=True)


def blanked(content: str, custom_ids: set[str]) -> str:
    out = []
    for line in content.splitlines():
        try:
            request = json.loads(line)
        except ValueError:
            out.append(line)
            continue
        if isinstance(request, dict) and request.get("custom_id") in custom_ids:
            request["body"] = ERASED
            line = json.dumps(request)
        out.append(line)
    return "\n".join(out) + "\n"


def purge(r: Retention) -> int:
    cutoff = r.cutoff("batch")
    if cutoff is None:
        return 0
    old = Batch.objects.filter(created_at__lt=cutoff, status__in=Batch.TERMINAL)
    count = old.delete()[0]
    return count + BatchFile.objects.filter(created__lt=cutoff, batch__isnull=True).exclude(
        batches__status__in=Batch.OPEN).delete()[0]


def register() -> None:
    erasure.register("batches", collect=collect, erase=erase, purge=purge, scoped=True)
