"""An admin reads usage per client, route and engine (requests, tokens, cost), switches the
period and downloads it as CSV, by mouse."""

from __future__ import annotations

import csv
import datetime as dt
from decimal import Decimal
from pathlib import Path

from django.utils import timezone
from playwright.sync_api import expect

from dihya.gateway.models import ApiClient, Generation
from fallbacks.models import Engine
from quotas.models import EnginePrice
from tests.browser.conftest import log_in, screenshot


def generation(client, route, engine, prompt, completion, *, days_ago=0, status="succeeded"):
    return Generation.objects.create(
        source=Generation.Source.CHAT, client=client, route_name=route, engine_name=engine,
        status=status, prompt_tokens=prompt, completion_tokens=completion, request={},
        created=timezone.now() - dt.timedelta(days=days_ago, minutes=5))


def test_an_admin_reads_usage_per_client_route_and_engine(page, superuser):
    shop, crm = ApiClient.objects.create(name="shop"), ApiClient.objects.create(name="crm")
    hosted = Engine.objects.create(name="hosted", provider="openai", base_url="http://h/v1",
                                   model="m")
    EnginePrice.objects.create(engine=hosted, input_per_million=Decimal(2),
                               output_per_million=Decimal(10))
    generation(shop, "chat", "hosted", 1000, 500)          # cost 0.002 + 0.005
    generation(shop, "chat", "local", 300, 100, status="failed")
    generation(crm, "summaries", "local", 2000, 1000)
    generation(crm, "summaries", "hosted", 1_000_000, 0, days_ago=10)  # this month only
    log_in(page, "admin")

    page.get_by_role("link", name="Usage by client, route and engine").click()
    table = page.locator("#usage-table")
    expect(page.get_by_role("link", name="Last 7 days")).to_have_attribute("aria-current", "page")
    expect(table.locator("tbody tr")).to_have_count(2)
    expect(table.locator("tbody tr", has_text="shop")).to_contain_text("2")
    expect(table.locator("tbody tr", has_text="shop")).to_contain_text("1900")
    expect(table.locator("tbody tr", has_text="shop")).to_contain_text("0.0070")
    expect(table.locator("tfoot")).to_contain_text("4900")
    expect(page.locator("#dihya-usage-chart")).to_be_visible()
    screenshot(page, "usage")

    page.get_by_role("link", name="per engine").click()
    expect(table.locator("tbody tr", has_text="hosted")).to_contain_text("0.0070")
    expect(table.locator("tbody tr", has_text="local")).to_contain_text("3400")
    page.get_by_role("link", name="Last 30 days").click()
    expect(table.locator("tbody tr", has_text="hosted")).to_contain_text("2.0070")

    with page.expect_download() as download:
        page.get_by_role("link", name="Download CSV").click()
    rows = list(csv.DictReader(Path(download.value.path()).read_text().splitlines()))
    assert [(r["engine"], r["requests"], r["cost"]) for r in rows] == [
        ("hosted", "2", "2.007000"), ("local", "2", "0.000000")]
    assert download.value.suggested_filename.startswith("dihya-usage-engine-month-")


def test_a_period_without_calls_says_so(page, superuser):
    log_in(page, "admin")
    page.goto("/admin/usage/?period=day&by=route")

    expect(page.locator(".dihya-empty")).to_contain_text("No calls in this period")
