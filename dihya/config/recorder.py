"""Audit events for configuration changes: who changed what, before and after, secrets masked.

Every change to what an admin can configure (engines and their prices, routes and their
fallback order, plans and limits, clients with their routes and plan, API keys, accounts'
plans) becomes one `config_change` event in the hash-chained audit log (`audit.log.record`),
with `details = {object, name, action, before, after, via}`. `before` / `after` hold the item
as `config export` shows it — only the keys that changed for an update — so an auditor reads
a change in the same words as a configuration file, and secrets never get there: sections
dump no secrets, an engine's stored key shows only as `stored` (a replaced key as
`stored (replaced)`), an API key's digest is never read.

How. Signals (pre_save / pre_delete / m2m pre_*) mark the configuration item a row belongs
to (a RouteEngine row belongs to its route, a Limit to its plan) and snapshot the item the
first time it is touched in a transaction; when the transaction commits, each touched item
is snapshotted again and a differing one is recorded. So a route reordered in the admin is
one event (engines [a, b, c] → [b, a, c]), not one per row, and a rolled-back edit records
nothing. `config apply` records its own exact list of changes inside its transaction and
silences the signals meanwhile (`quiet()`), so nothing is recorded twice. The actor comes from
`acting_as()` (the `config` and `demo` commands: "config apply (<OS user>)") or else from the
request that `ActorMiddleware` remembers (the person's typed actor, `audit.log.person`), or
else the OS user of the process.

Why not django-auditlog (3.x). It fits the model-history part, but: it keeps its own
LogEntry table with the actor's e-mail and IP address — a second store of personal data
outside our redaction, retention, erasure and hash chain, which we would have to purge and
erase as well; its `mask_fields` keeps half of the value visible (we would have to exclude
the secret instead, and then a replaced key leaves no trace); it records one entry per row,
so a reorder is N entries and the item-level before/after would still be ours to compute;
and forwarding its entries into `audit.log` is code anyway. Signals plus the configuration
sections' own snapshots are fewer moving parts and one store.

Must never: record a secret, record from a rolled-back transaction, or fail a save because of
auditing beyond what a failing database would fail anyway. Writes that bypass the ORM's
signals (`QuerySet.update()`, `bulk_create()`) are not seen: configuration code uses them
only inside `config apply`, which records itself.
"""

from __future__ import annotations

import getpass
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.db import models, transaction
from django.db.models.signals import m2m_changed, post_delete, post_save, pre_delete, pre_save
from django.http import HttpRequest, HttpResponse

from audit import log
from dihya.gateway.models import ApiClient, ApiKey
from fallbacks.models import Engine, Route, RouteEngine
from quotas.models import Assignment, EnginePrice, Limit, Plan

Key = tuple[str, str]  # (kind, name): ("route", "default")

_actor: ContextVar[str | None] = ContextVar("config_actor", default=None)
_request: ContextVar[HttpRequest | None] = ContextVar("config_request", default=None)
_quiet: ContextVar[bool] = ContextVar("config_quiet", default=False)
_batch: ContextVar[_Batch | None] = ContextVar("config_batch", default=None)


@contextmanager
def acting_as(actor: str) -> Iterator[None]:
    token = _actor.set(actor)
    try:
        yield
    finally:
        _actor.reset(token)


@contextmanager
def quiet() -> Iterator[None]:
    """Signals record nothing meanwhile: the caller records its changes itself."""
    token = _quiet.set(True)
    try:
        yield
    finally:
        _quiet.reset(token)


def os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no name for this uid (containers)
        return "unknown"


def actor() -> str:
    if explicit := _actor.get():
        return explicit
    request = _request.get()
    if request is not None:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            return log.person(user.get_username())
        return "anonymous"
    return f"process ({os_user()})"


def record(kind: str, name: str, before: dict[str, Any] | None, after: dict[str, Any] | None,
           *, via: str, by: str | None = None) -> None:
    """One `config_change` event; an update keeps only the keys that changed."""
    if before == after:
        return
    if before is None:
        action = "created"
    elif after is None:
        action = "deleted"
    else:
        action = "updated"
        changed = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
        before = {k: before[k] for k in changed if k in before}
        after = {k: after[k] for k in changed if k in after}
    log.record("config_change", actor=by or actor(), status=action,
               engine=name if kind == "engine" else "", route=name if kind == "route" else "",
               client=name if kind == "client" else "",
               details={"object": kind, "name": name, "action": action, "before": before,
                        "after": after, "via": via})


def describe(key: Key) -> dict[str, Any] | None:
    """The item as a configuration file shows it now, or None if it does not exist."""
    kind, name = key
    if kind == "api_key":
        found = ApiKey.objects.filter(prefix=name).select_related("client").first()
        if found is None:
            return None
        return {"client": found.client.name, "prefix": found.prefix, "name": found.name,
                "expires": found.expires.isoformat() if found.expires else None,
                "revoked": found.revoked.isoformat() if found.revoked else None}
    if kind == "account_plan":
        plan = Assignment.objects.filter(user_id=name).values_list("plan__name", flat=True)
        return {"plan": plan[0]} if plan else None
    from dihya.config.registry import sections  # the config package imports this module

    section = next(s for s in sections() if s.kind == kind)
    item = section.snapshot({name}).get(name)
    return item.exported() if item is not None else None


class _Batch:
    """The items touched in one transaction, with how they looked before it."""

    def __init__(self, in_atomic: bool) -> None:
        self.in_atomic = in_atomic
        self.before: dict[Key, dict[str, Any] | None] = {}
        self.key_replaced: set[str] = set()
        self.actor = actor()
        self.via = "admin" if _request.get() is not None else "code"
        self.done = False

    def usable(self, connection: Any) -> bool:
        if self.done or self.in_atomic != connection.in_atomic_block:
            return False
        # An outer rollback drops our on_commit callback, and with it this batch.
        return not self.in_atomic or still_pending(connection, self.flush)

    def flush(self) -> None:
        self.done = True
        for key, was in self.before.items():
            now = describe(key)
            if key[0] == "engine" and key[1] in self.key_replaced and now and was:
                now = {**now, "api_key": "stored (replaced)"}
            record(key[0], key[1], was, now, via=self.via, by=self.actor)


def still_pending(connection: Any, callback: Callable[[], None]) -> bool:
    """Whether `callback`, given to `transaction.on_commit`, will still run at the commit.

    Django has no public way to ask: a rollback silently discards the callbacks registered
    inside it, and only `connection.run_on_commit` (private) shows what is left. This is the
    one place that reads it; tests/audit/test_config_changes.py pins its behaviour, so an
    upgrade of Django that changes it fails there, not in production.
    """
    return any(cb == callback for _, cb, *_ in connection.run_on_commit)


def _touch(keys: Iterable[Key], using: str) -> _Batch | None:
    if _quiet.get():
        return None
    connection = transaction.get_connection(using)
    batch = _batch.get()
    if batch is None or not batch.usable(connection):
        batch = _Batch(connection.in_atomic_block)
        _batch.set(batch)
        if batch.in_atomic:
            transaction.on_commit(batch.flush, using=using)
    for key in keys:
        if key not in batch.before:
            batch.before[key] = describe(key)
    return batch


def _written(using: str) -> None:
    """After a write in autocommit mode, its batch is complete."""
    batch = _batch.get()
    if batch is not None and not batch.in_atomic and not batch.done:
        batch.flush()


# Which configuration item a row belongs to.
KEYS: dict[type[models.Model], Callable[[Any], list[Key]]] = {
    Engine: lambda e: [("engine", e.name)],
    EnginePrice: lambda p: [("engine", p.engine.name)],
    Route: lambda r: [("route", r.name)],
    RouteEngine: lambda s: [("route", s.route.name)],
    ApiClient: lambda c: [("client", c.name)],
    ApiKey: lambda k: [("api_key", k.prefix)],
    Plan: lambda p: [("plan", p.name)],
    Limit: lambda lim: [("plan", lim.plan.name)],
    Assignment: lambda a: [("client", a.client.name)] if a.client_id
    else [("account_plan", str(a.user_id))],
}
NAMED = {Engine: "engine", Route: "route", ApiClient: "client", Plan: "plan"}


def _before_save(sender: type[models.Model], instance: Any, raw: bool = False,
                 using: str = "default", **kwargs: Any) -> None:
    if raw or _quiet.get():
        return
    keys = KEYS[sender](instance)
    old = None
    if instance.pk is not None and sender in NAMED:
        old = sender._default_manager.filter(pk=instance.pk).values().first()
    if old and sender in NAMED and old["name"] != instance.name:
        keys.append((NAMED[sender], old["name"]))  # a rename: the old name goes away
    batch = _touch(keys, using)
    if (batch and sender is Engine and old and old["api_key_encrypted"]
            and instance.api_key_encrypted
            and old["api_key_encrypted"] != instance.api_key_encrypted):
        batch.key_replaced.add(instance.name)


def _before_delete(sender: type[models.Model], instance: Any, using: str = "default",
                   **kwargs: Any) -> None:
    if not _quiet.get():
        _touch(KEYS[sender](instance), using)


def _after_write(sender: type[models.Model], using: str = "default", **kwargs: Any) -> None:
    _written(using)


def _client_routes(sender: Any, instance: Any, action: str, reverse: bool, pk_set: Any,
                   using: str = "default", **kwargs: Any) -> None:
    if _quiet.get():
        return
    if action.startswith("post_"):
        _written(using)
        return
    if not reverse:
        _touch([("client", instance.name)], using)
        return
    clients = (ApiClient.objects.filter(pk__in=pk_set) if pk_set is not None
               else instance.clients.all())
    _touch([("client", name) for name in clients.values_list("name", flat=True)], using)


def connect() -> None:
    """Record every configuration change (connected once, by the console app's ready())."""
    for model in KEYS:
        uid = f"config-audit-{model._meta.label}"
        pre_save.connect(_before_save, sender=model, dispatch_uid=f"{uid}-pre-save")
        pre_delete.connect(_before_delete, sender=model, dispatch_uid=f"{uid}-pre-delete")
        post_save.connect(_after_write, sender=model, dispatch_uid=f"{uid}-post-save")
        post_delete.connect(_after_write, sender=model, dispatch_uid=f"{uid}-post-delete")
    m2m_changed.connect(_client_routes, sender=ApiClient.routes.through,
                        dispatch_uid="config-audit-client-routes")


class ActorMiddleware:
    """Remembers the request, so that changes made while serving it name its user."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[..., Any]) -> None:
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> Any:
        if self.is_async:
            return self._acall(request)
        token = _request.set(request)
        try:
            return self.get_response(request)
        finally:
            _request.reset(token)

    async def _acall(self, request: HttpRequest) -> HttpResponse:
        token = _request.set(request)
        try:
            return await self.get_response(request)
        finally:
            _request.reset(token)
