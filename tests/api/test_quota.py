"""GET /api/v1/quota: what a client (and one of its end users) has used and has left."""

from __future__ import annotations

import httpx

from dihya.gateway.models import ApiClient, Generation
from quotas.models import Assignment, Limit, Plan
from tests.conftest import recorded


def test_it_shows_used_remaining_and_reset_after_a_real_call(api, llama, make_engine,
                                                            make_route, make_key):
    make_route("default", make_engine(llama), max_tokens=8)
    key = make_key("billing")
    plan = Plan.objects.create(name="starter")
    Limit.objects.create(plan=plan, metric="requests", period="minute", amount=5, hard=True)
    Assignment.objects.create(plan=plan, client=ApiClient.objects.get(name="billing"))
    auth = {"Authorization": f"Bearer {key}"}
    answer = httpx.post(api + "/v1/chat/completions", headers=auth, timeout=60, json={
        "model": "default", "messages": [{"role": "user", "content": "Say hi"}]})
    assert answer.status_code == 200
    assert answer.headers["x-ratelimit-remaining-requests"] == "4"
    recorded()  # the call is charged when its end is written, after the answer

    status = httpx.get(api + "/api/v1/quota", headers=auth).json()

    [requests] = [s for s in status["data"] if s["metric"] == "requests"]
    assert (requests["plan"], requests["limit"], requests["used"], requests["remaining"]) == \
        ("starter", 5, 1, 4)
    assert requests["period"] == "minute" and requests["resets_at"] > requests["window_start"]
    assert requests["subject"].startswith("client:")


def test_it_adds_the_end_users_limits_when_asked(api, make_key, db, django_user_model):
    key = make_key("helpdesk", routes=[])
    helpdesk = ApiClient.objects.get(name="helpdesk")
    helpdesk.end_users, helpdesk.user_ids = True, "username"
    helpdesk.save()
    alice = django_user_model.objects.create_user("alice")
    Generation.objects.create(source="chat", client=helpdesk, end_user="alice", user=alice,
                              route_name="default")
    default = Plan.objects.create(name="people", is_default=True)
    Limit.objects.create(plan=default, metric="tokens", period="day", amount=1000, hard=True)

    status = httpx.get(api + "/api/v1/quota?user=alice",
                       headers={"Authorization": f"Bearer {key}"}).json()

    [tokens] = status["data"]
    assert (tokens["plan"], tokens["remaining"]) == ("people", 1000)
    assert tokens["subject"].startswith("user:") and "alice" not in tokens["subject"]


def test_it_answers_about_people_this_client_has_served_only(api, make_key, db,
                                                             django_user_model):
    alice = django_user_model.objects.create_user("alice")
    billing = ApiClient.objects.create(name="billing", end_users=True, user_ids="username")
    Generation.objects.create(source="chat", client=billing, end_user="alice", user=alice,
                              route_name="default")
    key = make_key("helpdesk", routes=[])
    ApiClient.objects.filter(name="helpdesk").update(end_users=True, user_ids="username")
    asked = {"Authorization": f"Bearer {key}"}

    for user in ("alice", "nobody"):
        refused = httpx.get(api + f"/api/v1/quota?user={user}", headers=asked)
        assert refused.status_code == 404
        assert refused.json()["error"] == {
            "message": "This client has served nobody by that `user`.",
            "type": "not_found_error", "param": "user", "code": "user_not_found"}


def test_it_needs_a_valid_key(api, db):
    response = httpx.get(api + "/api/v1/quota", headers={"Authorization": "Bearer dk-nope"})

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_api_key"
