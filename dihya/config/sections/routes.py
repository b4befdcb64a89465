"""`routes:` — named fallback chains; `engines` lists engines in fallback order.

An engine is its name (weight 1) or `{name: x, weight: 3}`: its share under `strategy:
weighted` (0 is a standby); export writes the name alone when the weight is 1. `strategy` is
one of the registered strategies (fallbacks.strategies, plug-ins included); `context_fit`
and `sticky` switch those filters on. `retry:` is the route's retry policy
(fallbacks.policy), the same fields as the admin's; like an engine's `timeout:`, omitted keys
take the model's defaults and export always shows it.

`aliases` are other names clients may send as `model` for the route: exact names and `*`
patterns (fallbacks.aliases); no alias may be a route's name or another route's alias, counting
the routes the file leaves as they are.

`embedding_dimension` pins the length of the route's embedding vectors. Unlike the other
fields, leaving it out keeps what the route has — a length the gateway recorded from the first
answer is what the apps' stored vectors have, and re-applying a file must not forget it;
`embedding_dimension: null` clears it (as the admin can), a number sets it.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from django.db.models import Prefetch
from pydantic import AfterValidator, BeforeValidator, Field, field_validator

from dihya.config.base import Item, Name, Plan, Section, Strict, duplicate_lines
from fallbacks import aliases as route_aliases
from fallbacks.models import Engine, Route, RouteEngine
from fallbacks.strategies import registry as strategies

SMALL = 32767  # PositiveSmallIntegerField


def _default(field: str) -> Any:
    return Route._meta.get_field(field).default  # type: ignore[union-attr]


class Retry(Strict):
    server_retries: int = Field(default_factory=lambda: _default("server_retries"),
                                ge=0, le=SMALL)
    backoff: float = Field(default_factory=lambda: _default("retry_backoff"), ge=0)
    max_attempts: int = Field(default_factory=lambda: _default("max_attempts"), ge=1, le=SMALL)
    deadline: float | None = Field(None, ge=0.1)
    first_token_timeout: float | None = Field(None, ge=0.05)
    when_full: Literal["next", "wait"] = Field(default_factory=lambda: _default("when_full"))


class Step(Strict):
    name: Name
    weight: int = Field(1, ge=0, le=2**31 - 1)


def _named(value: object) -> object:
    return {"name": value} if isinstance(value, str) else value


def _alias(value: str) -> str:
    if not route_aliases.ALIAS.match(value):
        raise ValueError(route_aliases.ALIAS_RULE)
    return value


class RouteItem(Item):
    name: Name
    engines: list[Annotated[Step, BeforeValidator(_named)]] = Field(default_factory=list)
    aliases: list[Annotated[str, AfterValidator(_alias)]] = Field(
        default_factory=list, max_length=route_aliases.MAX_ALIASES)
    max_tokens: int | None = Field(None, ge=1)
    description: str = Field("", max_length=200)
    strategy: str = Route.Strategy.ORDERED.value
    context_fit: bool = False
    sticky: bool = False
    retry: Retry = Field(default_factory=Retry)
    drop_params: list[str] = Field(default_factory=list, max_length=64)
    embedding_dimension: int | None = Field(None, ge=1, le=2**31 - 1)

    @field_validator("strategy")
    @classmethod
    def _known_strategy(cls, value: str) -> str:
        if value not in strategies.names():
            raise ValueError(f"unknown strategy {value!r} "
                             f"(known: {', '.join(strategies.names())})")
        return value

    @property
    def engine_names(self) -> list[str]:
        return [step.name for step in self.engines]

    def exported(self) -> dict[str, Any]:
        data = super().exported()
        data["engines"] = [step["name"] if step["weight"] == 1 else step
                           for step in data.get("engines", [])]
        if not data.get("aliases"):
            data.pop("aliases", None)
        for flag in ("context_fit", "sticky"):
            if not data.get(flag):
                data.pop(flag, None)
        return data


class RoutesSection(Section[RouteItem]):
    key = "routes"
    kind = "route"
    item = RouteItem

    def same(self, wanted: RouteItem, current: RouteItem) -> bool:
        if "embedding_dimension" not in wanted.model_fields_set:  # left out: kept as it is
            wanted = wanted.model_copy(update={
                "embedding_dimension": current.embedding_dimension})
        return super().same(wanted, current)

    def existing_names(self) -> set[str]:
        return set(Route.objects.values_list("name", flat=True))

    def check(self, plan: Plan) -> list[str]:
        problems = []
        engines = plan.final_names("engines")
        for i, route in enumerate(plan.items["routes"] or []):
            names = route.engine_names
            if route.strategy == "weighted" and names and not any(s.weight for s in route.engines):
                problems.append(f"routes[{i}].engines: every weight is 0; a weighted route "
                                "needs an engine with a weight above 0")
            problems += duplicate_lines(names, f"routes[{i}].engines[{{}}]")
            problems += [f"routes[{i}].engines[{j}]: {plan.unknown('engines', 'engine', name)}"
                         for j, name in enumerate(names) if name not in engines]
        problems += alias_lines(plan)
        if pruned := plan.pruned_names("engines"):
            # Routes that stay as they are must not lose an engine behind the file's back.
            kept = plan.existing["routes"] - plan.file_names("routes") - plan.pruned_names("routes")
            for step in (RouteEngine.objects.filter(engine__name__in=pruned, route__name__in=kept)
                         .select_related("route", "engine")
                         .order_by("engine__name", "route__name")):
                problems.append(f"engines: cannot prune engine {step.engine.name!r}: route "
                                f"{step.route.name!r}, which is not in the file, uses it")
        return problems

    def snapshot(self, names: set[str] | None = None) -> dict[str, RouteItem]:
        steps = RouteEngine.objects.select_related("engine").order_by("position", "id")
        routes = Route.objects.prefetch_related(Prefetch("steps", queryset=steps))
        if names is not None:
            routes = routes.filter(name__in=names)
        return {route.name: RouteItem.model_construct(
            name=route.name,
            aliases=list(route.aliases or []),
            engines=[Step.model_construct(name=step.engine.name, weight=step.weight)
                     for step in route.steps.all()],
            max_tokens=route.max_tokens, description=route.description,
            strategy=route.strategy, context_fit=route.context_fit, sticky=route.sticky,
            retry=Retry.model_construct(
                server_retries=route.server_retries, backoff=route.retry_backoff,
                max_attempts=route.max_attempts, deadline=route.deadline,
                first_token_timeout=route.first_token_timeout,
                when_full=route.when_full),  # type: ignore[arg-type]  # the model's choices
            drop_params=list(route.drop_params or []),
            embedding_dimension=route.embedding_dimension,
        ) for route in routes}

    def write(self, item: RouteItem) -> None:
        route = Route.objects.filter(name=item.name).first() or Route(name=item.name)
        route.aliases = list(item.aliases)
        route.max_tokens = item.max_tokens
        route.description = item.description
        route.strategy = item.strategy
        route.context_fit = item.context_fit
        route.sticky = item.sticky
        route.server_retries = item.retry.server_retries
        route.retry_backoff = item.retry.backoff
        route.max_attempts = item.retry.max_attempts
        route.deadline = item.retry.deadline
        route.first_token_timeout = item.retry.first_token_timeout
        route.when_full = item.retry.when_full
        route.drop_params = sorted(set(item.drop_params))
        if "embedding_dimension" in item.model_fields_set:
            route.embedding_dimension = item.embedding_dimension
        route.save()
        ids = dict(Engine.objects.filter(name__in=item.engine_names).values_list("name", "id"))
        RouteEngine.objects.filter(route=route).exclude(engine_id__in=ids.values()).delete()
        for position, step in enumerate(item.engines):
            RouteEngine.objects.update_or_create(route=route, engine_id=ids[step.name],
                                                 defaults={"position": position,
                                                           "weight": step.weight})

    def delete(self, names: set[str]) -> None:
        Route.objects.filter(name__in=names).delete()


def alias_lines(plan: Plan) -> list[str]:
    """Aliases that would reach two routes, or shadow a route's name, once the file is applied:
    the file's routes against each other and against the routes it leaves as they are."""
    items = plan.items.get("routes")
    if not items:
        return []
    kept = plan.final_names("routes") - plan.file_names("routes")
    final = {name: listed if isinstance(listed, list) else [] for name, listed in
             Route.objects.filter(name__in=kept).values_list("name", "aliases")}
    final.update({route.name: route.aliases for route in items})
    lines = []
    for i, route in enumerate(items):
        others = {name: listed for name, listed in final.items() if name != route.name}
        for where, message in route_aliases.problems(route.name, route.aliases, others):
            path = (f"routes[{i}].name" if where == "name" else f"routes[{i}].aliases"
                    + (f"[{where}]" if isinstance(where, int) else ""))
            lines.append(f"{path}: {message}")
    return lines


section = RoutesSection()
