"""Everything Dihya holds about one person: gather it (art. 15/20), erase it (art. 17), and
let records expire (retention).

Each app plugs in with `register(name, collect=, erase=, purge=)`, so the export
and the erasure reach every table without this module knowing them all: the quota ledger adds
its counters, the webhook sender its delivery logs. A request limited to one client's part
(`dihya.privacy.person`: a client's data request, a consent link's session) reaches only the
plugins registered `scoped=True`, which read `Person.client`; the others hold nothing a client
gave, or do not know how to tell. `erase` leaves an `ErasureReceipt` and an
audit event with counts only; `purge_expired` applies DIHYA_RETENTION_DAYS. Nothing here logs
personal data.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.conf import settings
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import AbstractBaseUser
from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django_q.models import OrmQ, Schedule, Task

from audit import consent, identities, log
from audit.models import ErasureReceipt, ExternalIdentity
from dihya.gateway import deliveries
from dihya.gateway.models import ApiClient, Delivery, Generation, StoredResponse
from dihya.privacy.person import Person, person, wholly_at
from fallbacks.models import BreakerState
from quotas import erasure as quota_records


@dataclass(frozen=True)
class Retention:
    """Cut-off dates per kind of record; a kind without a number is kept."""

    days: dict[str, int | None]
    now: dt.datetime = field(default_factory=timezone.now)

    def cutoff(self, kind: str) -> dt.datetime | None:
        days = self.days.get(kind)
        return None if days is None else self.now - dt.timedelta(days=days)


@dataclass(frozen=True)
class Plugin:
    name: str
    collect: Callable[[Person], Any] | None = None
    erase: Callable[[Person], int] | None = None
    purge: Callable[[Retention], int] | None = None
    scoped: bool = False  # reads Person.client: may serve a request limited to one client


_PLUGINS: dict[str, Plugin] = {}


def register(name: str, **hooks: Any) -> None:
    """Add (or replace) what one app holds about people. Erasure runs in registration order."""
    _PLUGINS[name] = Plugin(name, **hooks)


def plugins(client: ApiClient | None = None) -> list[Plugin]:
    """Every plugin; with a client, those that can limit themselves to its part."""
    return [p for p in _PLUGINS.values() if client is None or p.scoped]


# --- the three verbs -------------------------------------------------------------------------
def export(user: AbstractBaseUser, client: ApiClient | None = None) -> dict[str, Any]:
    """Everything held about the person, or (`client`) only what that client's part is."""
    p = person(user, client)
    data: dict[str, Any] = {"exported_at": timezone.now().isoformat(),
                            "account": _account(user, client)}
    if client is not None:
        data["client"] = client.name
    for plugin in plugins(client):
        if plugin.collect:
            data[plugin.name] = plugin.collect(p)
    return data


def erase(user: AbstractBaseUser, *, by: str, client: ApiClient | None = None
          ) -> ErasureReceipt:
    """Erase the person and their account; what is left is a receipt with counts. With
    `client`, only that client's part, and the account too when nothing else is left of it
    (`wholly_at`); the account stays while another client, an admin or a sign-in knows it."""
    if client is not None and wholly_at(user, client):
        client = None
    with transaction.atomic():
        receipt = ErasureReceipt.objects.create(by=by)
        p = replace(person(user, client), receipt=receipt)
        counts: dict[str, int] = {}
        for plugin in plugins(client):
            if plugin.erase:
                counts[plugin.name] = plugin.erase(p)
        if client is None:
            LogEntry.objects.filter(content_type=ContentType.objects.get_for_model(user),
                                    object_id=str(user.pk)).delete()
            user.delete()
            counts["account"] = 1
        receipt.counts = counts
        receipt.save(update_fields=["counts"])
        details: dict[str, Any] = {"receipt": str(receipt.pk), "counts": counts}
        log.record("erasure", actor=by, client=client.name if client else "", details=details)
    return receipt


def purge_expired(days: dict[str, int | None] | None = None, *, by: str = "schedule"
                  ) -> dict[str, int]:
    """Delete what is older than its retention; an audit event keeps the counts."""
    retention = Retention(dict(settings.DIHYA_RETENTION_DAYS if days is None else days))
    counts = {plugin.name: plugin.purge(retention) for plugin in plugins() if plugin.purge}
    log.record("purge", actor=by, details={"counts": counts, "days": retention.days})
    return counts


def _account(user: AbstractBaseUser, client: ApiClient | None = None) -> dict[str, Any]:
    external = ExternalIdentity.objects.filter(user=user).values_list("external_id", flat=True)
    if client is not None:
        external = external.filter(client_id=client.pk)
    return {"username": user.get_username(), "email": getattr(user, "email", ""),
            "first_name": getattr(user, "first_name", ""),
            "last_name": getattr(user, "last_name", ""),
            "date_joined": _iso(getattr(user, "date_joined", None)),
            "last_login": _iso(user.last_login), "external_id": external.first()}


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value else None


# --- what the built-in apps hold -------------------------------------------------------------
def _generations(p: Person) -> list[dict[str, Any]]:
    rows = Generation.objects.filter(pk__in=p.generation_ids).prefetch_related("attempts")
    return [{"id": str(g.pk), "created": g.created.isoformat(), "status": g.status,
             "kind": g.kind, "route": g.route_name, "engine": g.engine_name, "client": g.client_id,
             "user": g.end_user, "request": g.request, "result": g.result,
             "tool_calls": g.tool_calls,
             "error": g.error_code, "prompt_tokens": g.prompt_tokens,
             "completion_tokens": g.completion_tokens,
             "attempts": [a.as_report() for a in g.attempts.all()]}
            for g in rows.order_by("created")]


def _erase_generations(p: Person) -> int:
    return Generation.objects.filter(pk__in=p.generation_ids).delete()[1].get(
        Generation._meta.label, 0)


def _purge_generations(r: Retention) -> int:
    cutoff = r.cutoff("generation")
    if cutoff is None:
        return 0
    old = Generation.objects.filter(created__lt=cutoff, status__in=Generation.TERMINAL)
    return old.delete()[1].get(Generation._meta.label, 0)


def _stored_responses(p: Person) -> Any:
    """The person's stored responses; only the client's own when the request is scoped."""
    found = StoredResponse.objects.filter(Q(generation_id__in=p.generation_ids) | Q(user=p.user))
    return found if p.client is None else found.filter(client=p.client)


def _responses(p: Person) -> list[dict[str, Any]]:
    return [{"id": r.id, "created": r.created.isoformat(), "client": r.client_id,
             "user": r.end_user, "input_items": r.items, "response": r.response}
            for r in _stored_responses(p).order_by("created")]


def _purge_responses(r: Retention) -> int:
    cutoff = r.cutoff("response")
    return 0 if cutoff is None else StoredResponse.objects.filter(
        created__lt=cutoff).delete()[0]


def _task_names(ids: Iterable[Any]) -> list[str]:
    return [f"generation {i}" for i in ids]


def _erase_tasks(p: Person) -> int:
    """django-q2 keeps task arguments and results: only ids, but they are about this person."""
    ids = {str(i) for i in p.generation_ids}
    count = Task.objects.filter(name__in=_task_names(ids)).delete()[0]
    for queued in OrmQ.objects.all().iterator():
        try:
            task = queued.task
            args = {str(a) for a in task.get("args") or ()}
        except Exception:  # noqa: S112 - unreadable (signed with an old key): cannot be ours
            continue
        if args & ids:
            queued.delete()
            count += 1
    return count


def _purge_tasks(r: Retention) -> int:
    cutoff = r.cutoff("task")
    return 0 if cutoff is None else Task.objects.filter(stopped__lt=cutoff).delete()[0]


def _erase_deliveries(p: Person) -> int:
    """Callbacks carry the job's answer; their retries are django-q2 schedules named by id."""
    mine = Delivery.objects.filter(generation_id__in=p.generation_ids)
    ids = list(mine.values_list("pk", flat=True))
    names = [f"delivery {pk} #{n}" for pk in ids for n in range(2, deliveries.MAX_ATTEMPTS + 1)]
    count = Schedule.objects.filter(name__in=names).delete()[0] if names else 0
    count += Task.objects.filter(name__in=[f"delivery {pk}" for pk in ids]).delete()[0]
    return count + mine.delete()[0]


def _purge_deliveries(r: Retention) -> int:
    cutoff = r.cutoff("task")
    return 0 if cutoff is None else Delivery.objects.filter(created__lt=cutoff).exclude(
        status=Delivery.Status.PENDING).delete()[0]


SIGN_IN_RECORDS = (AccessAttempt, AccessFailureLog, AccessLog)  # django-axes: username, IP, agent


def _sign_ins(p: Person) -> list[dict[str, Any]]:
    username = p.user.get_username()
    return [{"kind": model._meta.model_name, "time": row.attempt_time.isoformat(),
             "ip_address": row.ip_address, "user_agent": row.user_agent}
            for model in SIGN_IN_RECORDS
            for row in model.objects.filter(username=username).order_by("attempt_time")]


def _erase_sign_ins(p: Person) -> int:
    username = p.user.get_username()
    return sum(model.objects.filter(username=username).delete()[0] for model in SIGN_IN_RECORDS)


def _purge_sign_ins(r: Retention) -> int:
    cutoff = r.cutoff("sign_in")
    return 0 if cutoff is None else sum(
        model.objects.filter(attempt_time__lt=cutoff).delete()[0] for model in SIGN_IN_RECORDS)


def _purge_audit(r: Retention) -> int:
    cutoff = r.cutoff("audit")
    return 0 if cutoff is None else log.purge_before(cutoff)


def register_builtins() -> None:
    """What the built-in apps hold about people (called once, from PrivacyConfig.ready)."""
    # Links are found through the identities: they go first, the identities next.
    # Links are found through the identities: they go first, the identities next. A request
    # limited to a client (p.client) reaches that client's links, ids, consents, generations
    # and events; sign-ins, breaker overrides and counters are the account's, not a client's.
    def at(p: Person) -> int | None:
        return None if p.client is None else p.client.pk

    register("consent_links", collect=lambda p: identities.export_links(p.user, at(p)),
             erase=lambda p: identities.erase_links(p.user, at(p)),
             purge=lambda r: identities.purge_expired(r.now), scoped=True)
    register("external_ids", collect=lambda p: identities.export_identities(p.user, at(p)),
             erase=lambda p: identities.erase_identities(p.user, at(p)), scoped=True)
    register("consents", collect=lambda p: consent.export(p.user, p.client_name),
             erase=lambda p: consent.anonymise(p.user, p.receipt.pk if p.receipt else None,
                                               p.client_name), scoped=True)
    # Before the generations, which they would otherwise follow uncounted (CASCADE).
    register("responses", collect=_responses, erase=lambda p: _stored_responses(p).delete()[0],
             purge=_purge_responses, scoped=True)
    register("generations", collect=_generations, erase=_erase_generations,
             purge=_purge_generations, scoped=True)
    register("tasks", erase=_erase_tasks, purge=_purge_tasks, scoped=True)
    register("deliveries", erase=_erase_deliveries, purge=_purge_deliveries, scoped=True)
    register("sign_in_records", collect=_sign_ins, erase=_erase_sign_ins, purge=_purge_sign_ins)
    register("breaker_overrides", erase=lambda p: BreakerState.objects.filter(
        changed_by=p.user.get_username()).update(changed_by=""))
    register("audit_events",
             collect=lambda p: log.events_about(p.persons, p.account, p.client_name),
             erase=lambda p: log.erase_subjects(
                 p.persons, p.generation_ids,
                 people=[] if p.client else [p.user.get_username()],
                 account=p.account, client=p.client_name),
             purge=_purge_audit, scoped=True)
    register("quotas", collect=lambda p: quota_records.collect(p.pseudonyms),
             erase=lambda p: quota_records.erase(p.pseudonyms, p.generation_ids),
             purge=lambda r: quota_records.purge(r.cutoff("generation"), r.cutoff("audit"),
                                                 r.now), scoped=True)
