"""`clients:` — applications allowed to call the API. Their keys are never configuration:
they are created once, shown once (see the API's key commands), and survive every apply.

`plan:` names the client's quota plan (a quotas Assignment); leaving it out removes the
client's assignment, as the file is the truth for what it names.

`regions:` (left out: any) and `third_party:` (left out: true) say where its calls may be
processed: engines in other regions, or run by a third party, are skipped (lawful egress).
"""

from __future__ import annotations

from typing import Annotated, Literal

from django.db.models import Prefetch
from pydantic import Field

from dihya.config.base import Item, Name, Plan, Section, duplicate_lines
from dihya.gateway.models import ApiClient
from fallbacks.models import Route
from quotas.models import Assignment
from quotas.models import Plan as QuotaPlan


class ClientItem(Item):
    name: str = Field(min_length=1, max_length=64)
    routes: list[Name] = Field(default_factory=list)
    end_users: bool = False
    user_ids: Literal["client", "username", "email", "sub"] = "client"
    drop_params: list[str] = Field(default_factory=list, max_length=64)
    active: bool = True
    plan: str | None = Field(None, min_length=1, max_length=64)
    regions: list[Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,39}$")]] = Field(
        default_factory=list, max_length=64)
    third_party: bool = True


class ClientsSection(Section[ClientItem]):
    key = "clients"
    kind = "client"
    item = ClientItem

    def existing_names(self) -> set[str]:
        return set(ApiClient.objects.values_list("name", flat=True))

    def check(self, plan: Plan) -> list[str]:
        problems = []
        routes = plan.final_names("routes")
        plans = plan.final_names("plans")
        for i, client in enumerate(plan.items["clients"] or []):
            if client.plan is not None and client.plan not in plans:
                problems.append(f"clients[{i}].plan: {plan.unknown('plans', 'plan', client.plan)}")
            problems += duplicate_lines(client.routes, f"clients[{i}].routes[{{}}]")
            problems += [f"clients[{i}].routes[{j}]: {plan.unknown('routes', 'route', name)}"
                         for j, name in enumerate(client.routes) if name not in routes]
        if pruned := plan.pruned_names("routes"):
            kept = (plan.existing["clients"] - plan.file_names("clients")
                    - plan.pruned_names("clients"))
            users = (ApiClient.routes.through.objects
                     .filter(route__name__in=pruned, apiclient__name__in=kept)
                     .select_related("route", "apiclient")
                     .order_by("route__name", "apiclient__name"))
            problems += [f"routes: cannot prune route {use.route.name!r}: client "
                         f"{use.apiclient.name!r}, which is not in the file, uses it"
                         for use in users]
        if pruned := plan.pruned_names("plans"):
            kept = (plan.existing["clients"] - plan.file_names("clients")
                    - plan.pruned_names("clients"))
            holders = (Assignment.objects.filter(plan__name__in=pruned, client__name__in=kept)
                       .order_by("plan__name", "client__name")
                       .values_list("plan__name", "client__name"))
            problems += [f"plans: cannot prune plan {plan_name!r}: client {client_name!r}, "
                         f"which is not in the file, has it"
                         for plan_name, client_name in holders]
        return problems

    def snapshot(self, names: set[str] | None = None) -> dict[str, ClientItem]:
        routes = Prefetch("routes", queryset=Route.objects.order_by("name"))
        clients = (ApiClient.objects.prefetch_related(routes)
                   .select_related("quota_assignment__plan"))
        if names is not None:
            clients = clients.filter(name__in=names)
        return {client.name: ClientItem.model_construct(
            name=client.name, routes=[route.name for route in client.routes.all()],
            end_users=client.end_users, user_ids=client.user_ids,  # type: ignore[arg-type]
            drop_params=list(client.drop_params or []), active=client.active,
            plan=_plan_name(client), regions=list(client.regions or []),
            third_party=client.third_party,
        ) for client in clients}

    def same(self, wanted: ClientItem, current: ClientItem) -> bool:
        # The order of a client's routes and dropped fields means nothing: compare as sets.
        unordered = {"routes", "drop_params", "regions"}
        return (wanted.model_dump(exclude=unordered) == current.model_dump(exclude=unordered)
                and set(wanted.routes) == set(current.routes)
                and set(wanted.regions) == set(current.regions)
                and set(wanted.drop_params) == set(current.drop_params))

    def write(self, item: ClientItem) -> None:
        client = ApiClient.objects.filter(name=item.name).first() or ApiClient(name=item.name)
        client.end_users = item.end_users
        client.user_ids = item.user_ids
        client.drop_params = sorted(set(item.drop_params))
        client.active = item.active
        client.regions = sorted(set(item.regions))
        client.third_party = item.third_party
        client.save()
        client.routes.set(Route.objects.filter(name__in=item.routes))
        if item.plan is None:
            Assignment.objects.filter(client=client).delete()
        else:
            Assignment.objects.update_or_create(
                client=client, defaults={"plan": QuotaPlan.objects.get(name=item.plan)})

    def delete(self, names: set[str]) -> None:
        # Deleting a client deletes its API keys with it: that is what pruning it means.
        ApiClient.objects.filter(name__in=names).delete()


def _plan_name(client: ApiClient) -> str | None:
    try:
        return client.quota_assignment.plan.name
    except Assignment.DoesNotExist:
        return None


section = ClientsSection()
