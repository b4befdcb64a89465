"""Read the configuration as snapshots for one request.

A route's snapshot is remembered per process, so that a request reads no configuration from
the database (one query, an API key decrypted and a strategy looked up per engine: about a
tenth of a call's CPU when it was read every time). Any change to an engine, a route or a
route's engine list forgets the snapshots (`dihya.lib.memo`: at once in this process, in every
process on commit with Redis, within `DIHYA_ROUTE_CACHE_SECONDS` without).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any

from django.conf import settings
from django.db.models.signals import post_delete, post_save

from dihya.lib.memo import Remembered
from fallbacks import aliases
from fallbacks.models import Engine, KeyVariableError, Processor, Route, RouteEngine
from fallbacks.policy import RetryPolicy
from fallbacks.providers import registry
from fallbacks.secrets import SecretError
from fallbacks.spec import EngineSpec, RouteSpec
from fallbacks.strategies import registry as strategies

log = logging.getLogger(__name__)

# Engine prices per million tokens (input, output) by engine id: what the `cheapest` strategy
# ranks by. Prices belong to the quota app (its cost limits use the same ones): `dihya` plugs
# a reader in here at start-up (`use_prices`), so there is one price per engine and this app
# never imports quotas. Called only for routes whose strategy `needs_prices`.
PriceSource = Callable[[Iterable[int]], dict[int, tuple[float, float]]]
_prices: PriceSource | None = None


def use_prices(source: PriceSource | None) -> None:
    global _prices
    _prices = source


def engine_spec(engine: Engine, *, weight: int = 1, counted: bool = False,
                price: tuple[float, float] = (0.0, 0.0)) -> EngineSpec:
    forbidden = False
    try:
        key = engine.api_key()
    except KeyVariableError as exc:
        # Not configured, even for a provider that works without a key: the engine asked
        # for a secret it may not have, and must not be called as if it had been fixed.
        log.warning("%s", exc)
        key, forbidden = "", True
    except SecretError:
        key = ""
    try:
        key_required = registry.get(engine.provider).key_required
    except LookupError:
        key_required = False
    return EngineSpec(
        id=engine.pk,
        name=engine.name,
        provider=engine.provider,
        base_url=engine.base_url,
        model=engine.model,
        api_key=key,
        connect_timeout=engine.connect_timeout,
        read_timeout=engine.read_timeout,
        total_timeout=engine.total_timeout,
        key_required=key_required or forbidden,
        max_concurrency=engine.max_concurrency,
        batch_share=engine.batch_share,
        weight=weight,
        context_window=engine.context_window,
        price_in=float(price[0]),
        price_out=float(price[1]),
        counted=counted,
        capabilities=engine.capability_set(),
        region=engine.region,
        third_party=engine.processor == Processor.THIRD_PARTY,
        mask=engine.masks,
    )


# Route name → snapshot (None: no such route), behind the route stamp (dihya.lib.memo).
_remembered: Remembered[RouteSpec | None] = Remembered(
    "dihya:routes:stamp", lambda: settings.DIHYA_ROUTE_CACHE_SECONDS, limit=1_000)


def route_spec(name: str) -> RouteSpec | None:
    """The route called `name` with its enabled engines in order, else the route `name` is an
    alias of (fallbacks.aliases), or None if unknown. What a name resolved to is remembered
    under that name like the route itself, and forgotten with it."""
    return _remembered.get(name, lambda: load_route_spec(name) or load_aliased(name))


def load_aliased(name: str) -> RouteSpec | None:
    """The route whose aliases take `name`, read from the database (one small query: the
    routes' names and aliases), or None."""
    table = [(route, listed) for route, listed in Route.objects.values_list("name", "aliases")
             if isinstance(listed, list) and listed]
    target = aliases.resolve(name, table)
    return load_route_spec(target) if target else None


def forget() -> None:
    """A route, engine or route engine changed: every process must build its snapshot again."""
    _remembered.forget()


def _changed(sender: type, **kwargs: Any) -> None:
    forget()


for _model in (Engine, Route, RouteEngine):
    post_save.connect(_changed, sender=_model, dispatch_uid=f"catalog-{_model.__name__}-save")
    post_delete.connect(_changed, sender=_model, dispatch_uid=f"catalog-{_model.__name__}-del")


def load_route_spec(name: str) -> RouteSpec | None:
    """`route_spec` read from the database."""
    steps = list(
        RouteEngine.objects.filter(route__name=name, engine__enabled=True)
        .select_related("route", "engine")
        .order_by("position", "id")
    )
    route: Route | None
    if steps:
        route = steps[0].route
    else:
        route = Route.objects.filter(name=name).first()
        if route is None:
            return None
    try:
        strategy = strategies.get(route.strategy)
    except LookupError:
        strategy = strategies.get(Route.Strategy.ORDERED)
    prices = (_prices([s.engine_id for s in steps])
              if strategy.needs_prices and _prices and steps else {})
    ceiling = route.max_tokens or settings.DIHYA_MAX_TOKENS_CEILING
    return RouteSpec(
        id=route.pk,
        name=route.name,
        strategy=route.strategy,
        max_tokens=ceiling,
        default_max_tokens=min(settings.DIHYA_DEFAULT_MAX_TOKENS, ceiling),
        aliases=tuple(route.aliases) if isinstance(route.aliases, list) else (),
        engines=tuple(engine_spec(step.engine, weight=step.weight,
                                  counted=strategy.counts_in_flight,
                                  price=prices.get(step.engine_id, (0.0, 0.0)))
                      for step in steps),
        policy=policy_of(route),
        context_fit=route.context_fit,
        sticky=route.sticky,
        drop_params=frozenset(route.drop_params or ()),
        embedding_dimension=route.embedding_dimension,
    )


def pin_embedding_dimension(route_id: int, dimension: int) -> None:
    """Record the first answer's vector length on a route that has none, so that every later
    answer must match it. One conditional UPDATE: of two first answers racing, the first
    written wins (the other was served already; the route's next request checks against the
    winner); a pinned route is never changed here, only by an admin. Route id 0 (a one-engine
    test route) is no row."""
    if route_id and dimension > 0 and Route.objects.filter(
            pk=route_id, embedding_dimension__isnull=True).update(embedding_dimension=dimension):
        forget()  # an UPDATE sends no signal: the snapshots must learn the pin


def policy_of(route: Route) -> RetryPolicy:
    return RetryPolicy(server_retries=route.server_retries, retry_backoff=route.retry_backoff,
                       max_attempts=route.max_attempts, deadline=route.deadline,
                       first_token_timeout=route.first_token_timeout, when_full=route.when_full)


def single_engine_route(engine: Engine) -> RouteSpec:
    """A one-engine route, for testing an engine on its own."""
    return RouteSpec(id=0, name=f"engine:{engine.name}", strategy=Route.Strategy.ORDERED,
                     max_tokens=settings.DIHYA_MAX_TOKENS_CEILING,
                     default_max_tokens=min(settings.DIHYA_DEFAULT_MAX_TOKENS,
                                            settings.DIHYA_MAX_TOKENS_CEILING),
                     engines=(engine_spec(engine),))
