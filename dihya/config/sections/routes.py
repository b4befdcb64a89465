"""`routes:` — named fallback chains; `engines` lists engine names in fallback order.

`retry:` is the route's retry policy (fallbacks.policy), the same fields as the admin's; like
an engine's `timeout:`, omitted keys take the model's defaults and export always shows it.
"""

from __future__ import annotations

from typing import Any, Literal

from django.db.models import Prefetch
from pydantic import Field, field_validator

from dihya.config.base import Item, Name, Plan, Section, Strict, duplicate_lines
from fallbacks.models import Engine, Route, RouteEngine

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


class RouteItem(Item):
    name: Name
    engines: list[Name] = Field(default_factory=list)
    max_tokens: int | None = Field(None, ge=1)
    description: str = Field("", max_length=200)
    strategy: str = Route.Strategy.ORDERED.value
    retry: Retry = Field(default_factory=Retry)
    drop_params: list[str] = Field(default_factory=list, max_length=64)

    @field_validator("strategy")
    @classmethod
    def _known_strategy(cls, value: str) -> str:
        if value not in Route.Strategy.values:
            raise ValueError(f"unknown strategy {value!r} "
                             f"(known: {', '.join(Route.Strategy.values)})")
        return value


class RoutesSection(Section[RouteItem]):
    key = "routes"
    kind = "route"
    item = RouteItem

    def existing_names(self) -> set[str]:
        return set(Route.objects.values_list("name", flat=True))

    def check(self, plan: Plan) -> list[str]:
        problems = []
        engines = plan.final_names("engines")
        for i, route in enumerate(plan.items["routes"] or []):
            problems += duplicate_lines(route.engines, f"routes[{i}].engines[{{}}]")
            problems += [f"routes[{i}].engines[{j}]: {plan.unknown('engines', 'engine', name)}"
                         for j, name in enumerate(route.engines) if name not in engines]
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
            name=route.name, engines=[step.engine.name for step in route.steps.all()],
            max_tokens=route.max_tokens, description=route.description,
            strategy=route.strategy,
            retry=Retry.model_construct(
                server_retries=route.server_retries, backoff=route.retry_backoff,
                max_attempts=route.max_attempts, deadline=route.deadline,
                first_token_timeout=route.first_token_timeout,
                when_full=route.when_full),  # type: ignore[arg-type]  # the model's choices
            drop_params=list(route.drop_params or []),
        ) for route in routes}

    def write(self, item: RouteItem) -> None:
        route = Route.objects.filter(name=item.name).first() or Route(name=item.name)
        route.max_tokens = item.max_tokens
        route.description = item.description
        route.strategy = item.strategy
        route.server_retries = item.retry.server_retries
        route.retry_backoff = item.retry.backoff
        route.max_attempts = item.retry.max_attempts
        route.deadline = item.retry.deadline
        route.first_token_timeout = item.retry.first_token_timeout
        route.when_full = item.retry.when_full
        route.drop_params = sorted(set(item.drop_params))
        route.save()
        ids = dict(Engine.objects.filter(name__in=item.engines).values_list("name", "id"))
        RouteEngine.objects.filter(route=route).exclude(engine_id__in=ids.values()).delete()
        for position, name in enumerate(item.engines):
            RouteEngine.objects.update_or_create(route=route, engine_id=ids[name],
                                                 defaults={"position": position})

    def delete(self, names: set[str]) -> None:
        Route.objects.filter(name__in=names).delete()


section = RoutesSection()
