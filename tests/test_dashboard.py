"""The admin's home page: figures from aggregated queries, and a JSON feed for the chart."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest
from django.utils import timezone

from dihya.console import dashboard
from dihya.gateway.models import Attempt, Generation


def generation(status: str, attempts: list[tuple[str, str, float]]) -> Generation:
    g = Generation.objects.create(source="command", route_name="default", status=status)
    for position, (engine, outcome, latency) in enumerate(attempts):
        Attempt.objects.create(generation=g, engine_name=engine, position=position,
                               outcome=outcome, latency_ms=latency)
    return g


@pytest.fixture
def traffic(db):
    generation("succeeded", [("llama", "ok", 100.0)])
    generation("succeeded", [("mixtral", "connect_error", 2.0), ("llama", "ok", 300.0)])
    generation("failed", [("mixtral", "connect_error", 2.0)])
    generation("queued", [])


def test_it_counts_success_and_fallback_rates(traffic):
    totals = dashboard.totals("hour")

    assert totals["total"] == 4
    assert totals["success_rate"] == 2 / 3
    assert totals["fallback_rate"] == 1 / 2
    assert totals["queued"] == 1


def test_it_gives_latency_percentiles_per_engine(traffic):
    figures = {f.engine: f for f in dashboard.engines("hour")}

    assert figures["llama"].p50_ms == 300.0
    assert figures["llama"].success_rate == 1.0
    assert figures["mixtral"].ok == 0 and figures["mixtral"].p50_ms is None


def test_it_leaves_out_what_is_older_than_the_period(traffic):
    Generation.objects.update(created=timezone.now() - timezone.timedelta(hours=2))

    assert dashboard.totals("hour")["total"] == 0
    assert dashboard.totals("day")["total"] == 4


def test_the_admin_home_shows_the_dashboard(traffic, admin_client, django_assert_max_num_queries):
    with django_assert_max_num_queries(20):
        response = admin_client.get("/admin/")

    assert response.status_code == 200
    assert b'id="dashboard"' in response.content
    assert b"llama" in response.content


def test_the_chart_feed_is_json_and_refuses_an_unknown_period(traffic, admin_client):
    data = admin_client.get("/admin/dashboard.json?period=day").json()
    assert sum(p.get("succeeded", 0) for p in data["series"]) == 2

    bad = admin_client.get("/admin/dashboard.json?period=year")
    assert bad.status_code == 400
    assert bad.json()["error"]["param"] == "period"


def test_the_dashboard_is_for_staff_only(traffic, client):
    response = client.get("/admin/dashboard.json")
    assert response.status_code == 302


def test_it_shows_each_engines_breaker_and_last_health_probe(db, admin_client, make_engine):
    from fallbacks import breaker_control

    up = make_engine("http://127.0.0.1:9/v1", name="up", last_seen_up=timezone.now())
    make_engine("http://127.0.0.1:8/v1", name="down")
    breaker_control.force("down", "open", actor="ops", reason="maintenance")

    states = {s["engine"]: s for s in dashboard.engine_states()}
    page = admin_client.get("/admin/").content.decode()

    assert states["up"]["state"] == "closed" and states["up"]["last_seen_up"]
    assert states["down"]["state"] == "open" and states["down"]["forced"]
    assert "dihya-state-open" in page and "forced open by ops" in page
    assert up.last_seen_up.isoformat()[:19] in page.replace(" ", "T")


def test_it_ranks_quota_users_nearest_their_limit_first(db):
    from dihya.gateway.models import ApiClient
    from quotas import windows
    from quotas.models import Assignment, Counter, Limit, Plan

    now = timezone.now()
    plan = Plan.objects.create(name="starter")
    Limit.objects.create(plan=plan, metric="requests", period="minute", amount=10)
    small, big = ApiClient.objects.create(name="small"), ApiClient.objects.create(name="big")
    Assignment.objects.create(plan=plan, client=small)
    minute = windows.bounds("minute", now)[0]
    Counter.objects.create(subject=f"client:{small.pk}", metric="requests", period="minute",
                           window_start=minute, used=9)
    Counter.objects.create(subject=f"client:{big.pk}", metric="requests", period="minute",
                           window_start=minute, used=40)  # no plan of its own: no limit shown
    Counter.objects.create(subject=f"client:{big.pk}", metric="requests", period="minute",
                           window_start=minute - timezone.timedelta(minutes=5), used=99)

    top = dashboard.top_quota_users(now=now)

    assert [(u.subject, u.used, u.limit, u.percent) for u in top] == [
        ("small", 9, 10, 90), ("big", 40, None, None)]


def test_it_names_the_people_among_quota_users(db, django_user_model):
    from audit.models import ExternalIdentity
    from dihya.gateway.models import ApiClient
    from quotas import windows
    from quotas.models import Counter
    from quotas.plans import user_subject

    now = timezone.now()
    shop = ApiClient.objects.create(name="shop")
    ExternalIdentity.objects.create(user=django_user_model.objects.create_user("person-1"),
                                    client_id=shop.pk, external_id="alice-42")
    minute = windows.bounds("minute", now)[0]
    for who, used in (("alice-42", 3), ("stranger", 2)):
        Counter.objects.create(subject=user_subject(who), metric="requests", period="minute",
                               window_start=minute, used=used)

    top = dashboard.top_quota_users(now=now)

    assert top[0].subject == "alice-42 at shop"
    assert top[1].subject.startswith("a person (pseudonym p_")


def test_it_lists_open_alerts_only(db, admin_client):
    from quotas.models import Alert

    Alert.objects.create(subject="client:1", threshold=80, amount=10, metric="requests",
                         period="minute", used=8, message="client:1 at 80 %",
                         window_start=timezone.now())
    Alert.objects.create(subject="client:1", threshold=100, message="acknowledged one",
                         window_start=timezone.now(), acknowledged=timezone.now())

    page = admin_client.get("/admin/").content.decode()

    assert "client:1 reached 80 % of 10 requests per minute" in page  # no such client
    assert "acknowledged one" not in page


def test_it_shows_each_engines_share_latency_average_and_in_flight(db, make_engine,
                                                                     admin_client, monkeypatch):
    from fallbacks import latency
    from fallbacks.models import EngineLatency, EngineSlot

    monkeypatch.setattr(latency, "store", latency.DatabaseStore)  # the averages below are rows

    a, b = make_engine("http://127.0.0.1:9/v1", name="a"), make_engine("http://127.0.0.1:9/v1",
                                                                      name="b")
    for engine, n in ((a, 3), (b, 1)):
        for _ in range(n):
            g = Generation.objects.create(source="command", route_name="r", status="succeeded")
            Attempt.objects.create(generation=g, engine_id=engine.pk, engine_name=engine.name,
                                   position=0, outcome="ok", latency_ms=100.0)
    EngineLatency.objects.create(engine=a, first_token_ms=120.04, first_token_samples=3,
                                 per_token_ms=9.5, per_token_samples=2)
    EngineSlot.objects.create(engine=b, number=1_000_001, holder="x",
                              expires=timezone.now() + timezone.timedelta(minutes=1))

    figures = {f.engine: f for f in dashboard.engines("hour")}

    assert (figures["a"].share, figures["b"].share) == (0.75, 0.25)
    assert (figures["a"].first_token_ms, figures["a"].per_token_ms) == (120.0, 9.5)
    assert figures["b"].first_token_ms is None
    assert (figures["a"].in_flight, figures["b"].in_flight) == (0, 1)
    html = admin_client.get("/admin/").content.decode()
    assert '<td data-figure="share">75 %</td>' in html
    assert '<td data-figure="in_flight">1</td>' in html


@pytest.mark.parametrize(("period", "step", "count"), [
    ("hour", 60, 61), ("day", 3600, 25), ("week", 86400, 8)])
def test_the_chart_has_every_bucket_of_the_period_even_empty_ones(db, settings, period, step,
                                                                   count):
    settings.TIME_ZONE = "Europe/Paris"
    now = dt.datetime(2026, 12, 4, 19, 32, 46, tzinfo=dt.UTC)  # no daylight saving change
    served = generation("succeeded", [("llama", "ok", 100.0)])
    Generation.objects.filter(pk=served.pk).update(created=now - dt.timedelta(minutes=1))

    points = dashboard.series(period, now=now)

    times = [dt.datetime.fromisoformat(p["t"]) for p in points]
    assert len(points) in (count - 1, count)  # the first bucket may start before the period
    assert all((b - a).total_seconds() == step for a, b in itertools.pairwise(times))
    assert sum(p.get("succeeded", 0) for p in points) == 1


def test_a_daylight_saving_change_neither_repeats_nor_skips_a_day(settings):
    settings.TIME_ZONE = "Europe/Paris"
    tuesday = dt.datetime(2026, 3, 31, 12, 0, tzinfo=dt.UTC)  # summer time began on the 29th

    days = [timezone.localtime(at).date().isoformat()
            for at in dashboard.buckets("week", tuesday)]

    assert days == [f"2026-03-{d}" for d in range(24, 32)]


def test_it_splits_each_engines_load_live_versus_batch(db, make_engine, admin_client):
    from fallbacks import slots

    engine = make_engine("http://127.0.0.1:9/v1", name="shared", batch_share=2)
    for source, n, (prompt, completion) in (("chat", 2, (10, 5)), ("job", 1, (1, 1)),
                                             ("batch", 3, (20, 10))):
        for _ in range(n):
            g = Generation.objects.create(source=source, route_name="r", status="succeeded",
                                          engine=engine, engine_name=engine.name,
                                          prompt_tokens=prompt, completion_tokens=completion)
            Attempt.objects.create(generation=g, engine_id=engine.pk, engine_name=engine.name,
                                   position=0, outcome="ok", latency_ms=100.0)
    old = Generation.objects.create(source="batch", route_name="r", status="succeeded",
                                    engine=engine, prompt_tokens=99)
    Generation.objects.filter(pk=old.pk).update(created=timezone.now() - dt.timedelta(hours=2))
    assert slots.take(engine.pk, 2, "a-batch-line", 60, slots.TICKETS)

    [figures] = dashboard.engines("hour")

    assert (figures.live_calls, figures.live_tokens) == (3, 32)
    assert (figures.batch_calls, figures.batch_tokens) == (3, 90)
    assert (figures.batch_in_flight, figures.batch_share, figures.in_flight) == (1, 2, 0)
    html = admin_client.get("/admin/").content.decode()
    assert '<td data-figure="live">3 calls, 32 tokens</td>' in html
    assert ('<td data-figure="batch">3 calls, 90 tokens<br><small class="dihya-quiet">now 1 / 2'
            '</small></td>') in html
    feed = admin_client.get("/admin/dashboard.json?period=hour").json()
    assert feed["engines"][0]["batch_tokens"] == 90
