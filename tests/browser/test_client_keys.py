"""An admin sets a client's plan and creates its key from the client's page, by mouse, and
gets the key with a copy button and settings ready to paste; alerts name who they are about."""

from __future__ import annotations

import datetime as dt

from django.contrib.auth import get_user_model
from playwright.sync_api import expect

from audit.models import ExternalIdentity
from dihya.gateway import keys
from dihya.gateway.models import ApiClient
from fallbacks.models import Route
from quotas.models import Alert, Assignment, Limit, Plan
from quotas.plans import user_subject
from tests.browser.conftest import log_in, screenshot


def test_an_admin_sets_a_plan_and_creates_a_key_from_the_clients_page(page, superuser,
                                                                      live_server):
    starter = Plan.objects.create(name="starter")
    Limit.objects.create(plan=starter, metric="requests", period="minute", amount=5)
    client = ApiClient.objects.create(name="billing-app")
    client.routes.add(Route.objects.create(name="chat"))
    log_in(page, "admin")

    page.goto("/admin/gateway/apiclient/")
    page.get_by_role("link", name="billing-app").click()
    page.locator("#id_quota_assignment-0-plan").select_option(label="starter")
    page.get_by_role("button", name="Save and continue editing").click()
    expect(page.locator(".messagelist .success")).to_be_visible()
    assert Assignment.objects.get(client=client).plan == starter
    expect(page.locator("#id_quota_assignment-0-plan")).to_have_value(str(starter.pk))

    page.get_by_role("link", name="Create an API key").click()
    expect(page.get_by_label("Client")).to_have_value(str(client.pk))
    page.get_by_label("Name").fill("laptop")
    page.get_by_role("button", name="Save", exact=True).click()

    key = page.locator("#new-api-key")
    expect(key).to_contain_text("dk-")
    raw = key.inner_text().strip()
    assert keys.verify(raw).client == client
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    page.locator("[data-copy='#new-api-key']").click()
    expect(page.locator("[data-copy='#new-api-key']")).to_have_text("Copied")
    assert page.evaluate("navigator.clipboard.readText()") == raw
    codex = page.locator("#snippet-codex-text")
    expect(codex).to_contain_text('wire_api = "responses"')
    expect(codex).to_contain_text(f'base_url = "{live_server.url}/v1"')
    expect(codex).to_contain_text('model = "chat"')
    expect(page.locator("#snippet-claude-text")).to_contain_text(
        f"ANTHROPIC_BASE_URL={live_server.url}\n")
    expect(page.locator("#snippet-curl-text")).to_contain_text(f"Bearer {raw}")
    expect(page.locator("#snippet-openai-text")).to_contain_text(f'api_key="{raw}"')
    screenshot(page, "new-key")

    page.get_by_role("link", name="Done: back to billing-app").click()
    expect(page.locator("#keys-group")).to_contain_text("laptop")
    expect(page.locator("#keys-group")).to_contain_text(raw[:8])


def test_alerts_name_the_client_and_the_person(page, superuser, settings):
    settings.TIME_ZONE = "Europe/Paris"
    shop = ApiClient.objects.create(name="shop", end_users=True)
    alice = get_user_model().objects.create_user("person-aaf8c1d2")
    ExternalIdentity.objects.create(user=alice, client_id=shop.pk, external_id="alice-42")
    at = dt.datetime(2026, 12, 4, 19, 32, 46, tzinfo=dt.UTC)
    Alert.objects.create(subject=f"client:{shop.pk}", metric="requests", period="minute",
                         threshold=100, amount=5, used=5, window_start=at, created=at,
                         message=f"client:{shop.pk} reached 100 %")
    Alert.objects.create(subject=user_subject("alice-42"), metric="tokens", period="day",
                         threshold=80, amount=1000, used=800, window_start=at, created=at,
                         message="user:p_… reached 80 %")
    log_in(page, "admin")

    page.get_by_role("link", name="Alerts").first.click()
    rows = page.locator("#result_list tbody")
    expect(rows).to_contain_text("shop reached 100 % of 5 requests per minute")
    expect(rows).to_contain_text("alice-42 at shop reached 80 % of 1000 tokens per day")
    expect(rows).to_contain_text("20:32:46")  # Paris, to the second
    expect(rows).not_to_contain_text("client:")
    page.goto("/admin/")
    expect(page.locator("#dihya-open-alerts")).to_contain_text("shop reached 100 %")
