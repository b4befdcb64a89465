"""Everything Dihya holds about one person: gather it (art. 15/20), erase it (art. 17), and
let records expire (retention).

Each app plugs in with `register(name, collect=, erase=, purge=)`, so the export
and the erasure reach every table without this module knowing them all: the quota ledger adds
its counters, the webhook sender its delivery logs. `erase` leaves an `ErasureReceipt` and an
audit event with counts only; `purge_expired` applies DIHYA_RETENTION_DAYS. Nothing here logs
personal data.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
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
from dihya.gateway.models import Delivery, Generation, StoredResponse
from dihya.lib.pseudonyms import pseudonym
from fallbacks.models import BreakerState
from quotas import erasure as quota_records


@dataclass(frozen=True)
class Person:
    """One person as the tables know them: account, the names clients use, pseudonyms, jobs."""

    user: AbstractBaseUser
    names: frozenset[str]
    pseudonyms: frozenset[str]
    generation_ids: tuple[Any, ...]
    receipt: ErasureReceipt | None = None


def person(user: AbstractBaseUser) -> Person:
    """The person's generations are those linked to their account, and those a client made
    for one of the ids it knows them by (at that client only: ids are per client)."""
    username = user.get_username()
    known = identities.client_ids_of(user)
    names = {username} | {external_id for _, external_id in known}
    mine = (Q(user=user) | Q(client__isnull=True, end_user=username)
            | Q(client__end_users=True, client__user_ids="username", end_user=username))
    for client_id, external_id in known:
        mine |= (Q(client__end_users=True, end_user=external_id) if client_id is None
                 else Q(client_id=client_id, end_user=external_id))
    names.update(Generation.objects.filter(user=user).exclude(end_user="")
                 .values_list("end_user", flat=True).distinct())
    ids = tuple(Generation.objects.filter(mine).values_list("id", flat=True))
    return Person(user, frozenset(names), frozenset(pseudonym(n) for n in names), ids)


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


_PLUGINS: dict[str, Plugin] = {}


def register(name: str, **hooks: Any) -> None:
    """Add (or replace) what one app holds about people. Erasure runs in registration order."""
    _PLUGINS[name] = Plugin(name, **hooks)


def plugins() -> list[Plugin]:
    return list(_PLUGINS.values())


# --- the three verbs -------------------------------------------------------------------------
def export(user: AbstractBaseUser) -> dict[str, Any]:
    p = person(user)
    data: dict[str, Any] = {"exported_at": timezone.now().isoformat(), "account": _account(user)}
    for plugin in plugins():
        if plugin.collect:
            data[plugin.name] = plugin.collect(p)
    return data


def erase(user: AbstractBaseUser, *, by: str) -> ErasureReceipt:
    """Erase the person and their account; what is left is a receipt with counts."""
    with transaction.atomic():
        receipt = ErasureReceipt.objects.create(by=by)
        p = person(user)
        p = Person(p.user, p.names, p.pseudonyms, p.generation_ids, receipt)
        counts: dict[str, int] = {}
        for plugin in plugins():
            if plugin.erase:
                counts[plugin.name] = plugin.erase(p)
        LogEntry.objects.filter(content_type=ContentType.objects.get_for_model(user),
                                object_id=str(user.pk)).delete()
        user.delete()
        counts["account"] = 1
        receipt.counts = counts
        receipt.save(update_fields=["counts"])
        log.record("erasure", actor=by, details={"receipt": str(receipt.pk), "counts": counts})
    return receipt


def purge_expired(days: dict[str, int | None] | None = None, *, by: str = "schedule"
                  ) -> dict[str, int]:
    """Delete what is older than its retention; an audit event keeps the counts."""
    retention = Retention(dict(settings.DIHYA_RETENTION_DAYS if days is None else days))
    counts = {plugin.name: plugin.purge(retention) for plugin in plugins() if plugin.purge}
    log.record("purge", actor=by, details={"counts": counts, "days": retention.days})
    return counts


def _account(user: AbstractBaseUser) -> dict[str, Any]:
    external = ExternalIdentity.objects.filter(user=user).values_list("external_id", flat=True)
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
    return StoredResponse.objects.filter(Q(generation_id__in=p.generation_ids) | Q(user=p.user))


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
    register("consent_links", collect=lambda p: identities.export_links(p.user),
             erase=lambda p: identities.erase_links(p.user),
             purge=lambda r: identities.purge_expired(r.now))
    register("external_ids", collect=lambda p: identities.export_identities(p.user),
             erase=lambda p: identities.erase_identities(p.user))
    register("consents", collect=lambda p: consent.export(p.user),
             erase=lambda p: consent.anonymise(p.user, p.receipt.pk if p.receipt else None))
    # Before the generations, which they would otherwise follow uncounted (CASCADE).
    register("responses", collect=_responses, erase=lambda p: _stored_responses(p).delete()[0],
             purge=_purge_responses)
    register("generations", collect=_generations, erase=_erase_generations,
             purge=_purge_generations)
    register("tasks", erase=_erase_tasks, purge=_purge_tasks)
    register("deliveries", erase=_erase_deliveries, purge=_purge_deliveries)
    register("sign_in_records", collect=_sign_ins, erase=_erase_sign_ins, purge=_purge_sign_ins)
    register("breaker_overrides", erase=lambda p: BreakerState.objects.filter(
        changed_by=p.user.get_username()).update(changed_by=""))
    register("audit_events", collect=lambda p: log.events_about(p.pseudonyms),
             erase=lambda p: log.erase_subjects(p.pseudonyms, p.generation_ids,
                                             people=[p.user.get_username()]),
             purge=_purge_audit)
    register("quotas", collect=lambda p: quota_records.collect(p.pseudonyms),
             erase=lambda p: quota_records.erase(p.pseudonyms, p.generation_ids),
             purge=lambda r: quota_records.purge(r.cutoff("generation"), r.cutoff("audit"),
                                                 r.now))
