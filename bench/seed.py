"""Prepare a scratch database for the benchmark and print what the load generator needs (JSON).

Runs in its own process (`python -m bench.seed`) with DATABASE_URL pointing at the scratch
database, so the harness itself never imports Django and each section may use another database.
It migrates, then creates engines on the fake upstream, routes, clients with keys and plans,
and an end user who consented: everything a call through the whole pipeline touches.

This module must never run against a database that is not a scratch one: `bench.procs`
only ever hands it var/bench/… or the dihya_bench PostgreSQL database.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

BIG = 10**12


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--upstream", required=True, help="http://127.0.0.1:PORT")
    parser.add_argument("--llama", default="", help="…/v1 of a llama.cpp server, if any")
    parser.add_argument("--migrate", action="store_true")
    parser.add_argument("--request-limit", type=int, default=20)
    parser.add_argument("--token-limit", type=int, default=0)
    parser.add_argument("--tag", default="", help="suffix of the quota clients (fresh counters)")
    args = parser.parse_args()

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dihya.settings")
    import django

    django.setup()
    from django.core.management import call_command

    if args.migrate:
        call_command("migrate", verbosity=0, interactive=False)
    json.dump(seed(args.upstream, args.llama, args.request_limit, args.token_limit,
                   args.tag), sys.stdout)


def seed(upstream: str, llama: str, request_limit: int, token_limit: int,
         tag: str = "") -> dict[str, object]:
    from django.contrib.auth import get_user_model
    from django.db import transaction

    from audit import consent
    from dihya.gateway import keys
    from dihya.gateway.models import ApiClient
    from fallbacks.models import Engine, Route, RouteEngine
    from quotas.models import Assignment, Limit, Plan

    def engine(name: str, path: str, base: str = upstream, **fields) -> Engine:
        fields.setdefault("connect_timeout", 2.0)
        fields.setdefault("read_timeout", 30.0)
        found, _ = Engine.objects.update_or_create(
            name=name, defaults={"provider": "openai", "base_url": f"{base}{path}",
                                 "model": "fake", **fields})
        return found

    def route(name: str, *engines: Engine, **fields) -> Route:
        found, _ = Route.objects.update_or_create(name=name, defaults=fields)
        RouteEngine.objects.filter(route=found).delete()
        for position, e in enumerate(engines):
            RouteEngine.objects.create(route=found, engine=e, position=position)
        return found

    def plan(name: str, limits: dict[str, int], default: bool = False) -> Plan:
        found, _ = Plan.objects.update_or_create(name=name, defaults={"is_default": default})
        Limit.objects.filter(plan=found).delete()
        for metric, amount in limits.items():
            Limit.objects.create(plan=found, metric=metric, period="day", amount=amount)
        return found

    def client(name: str, routes: list[Route], plan_: Plan, end_users: bool = False) -> str:
        # End users are named by their Dihya username (ApiClient.user_ids): alice below.
        c, _ = ApiClient.objects.update_or_create(
            name=name, defaults={"end_users": end_users, "user_ids": "username"})
        c.routes.set(routes)
        Assignment.objects.update_or_create(client=c, defaults={"plan": plan_})
        return keys.issue(c, name="bench")[1]

    with transaction.atomic():
        ok = engine("fake", "/ok/v1")
        ok2 = engine("fake-2", "/ok/v1")
        exact = engine("fake-exact", "/exact/v1")
        dead = engine("dead", "/ok/v1", base="http://127.0.0.1:9")  # discard port: refused
        e500 = engine("fake-500", "/e500/v1")
        e429 = engine("fake-429", "/e429/v1")
        hang = engine("fake-hang", "/hang/v1", read_timeout=1.0)
        hang2 = engine("fake-hang-2", "/hang/v1", read_timeout=5.0)
        dead2 = engine("dead-2", "/ok/v1", base="http://127.0.0.1:9")
        e500b = engine("fake-500-2", "/e500/v1")
        routes = [
            route("bench", ok), route("exact", exact),
            route("refused", dead, ok), route("e500", e500, ok), route("e429", e429, ok),
            route("hang", hang, ok),
            route("hang-stream", hang2, ok, first_token_timeout=0.5),
            route("chain3", dead2, e500b, ok2),
            route("long", engine("fake-long", "/long/v1")),  # bench/streams.py
        ]
        if llama:
            routes.append(route("llama", engine("llama", "", base=llama, read_timeout=120,
                                                model="smollm2-135m"), max_tokens=64))
        plan("bench-default", {"requests": BIG, "tokens": BIG}, default=True)
        big = plan("bench-big", {"requests": BIG, "tokens": BIG})
        User = get_user_model()
        alice, _ = User.objects.get_or_create(username="alice")
        consent.grant(alice, actor="bench")
        out: dict[str, object] = {
            "key": client("bench", routes, big, end_users=True),
            "user": "alice",
        }
        # No plan and no end user: the call admits against no counter at all (bench/rate.py).
        free, _ = ApiClient.objects.update_or_create(
            name="bench-free", defaults={"end_users": False, "user_ids": "username"})
        free.routes.set(routes)
        Assignment.objects.filter(client=free).delete()
        out["key_free"] = keys.issue(free, name="bench")[1]
        out["key_requests"] = client(f"bench-requests{tag}", routes,
                                     plan(f"bench-requests{tag}", {"requests": request_limit}))
        if token_limit:
            out["key_tokens"] = client(f"bench-tokens{tag}", routes,
                                       plan(f"bench-tokens{tag}", {"tokens": token_limit}))
    return out


if __name__ == "__main__":
    main()
