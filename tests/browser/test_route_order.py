"""An operator tests a route live, drags another engine to the top, and the next test
generation is served by it with nothing skipped (the issue's "done when")."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from fallbacks.models import Route
from tests.browser.conftest import log_in, screenshot

pytestmark = pytest.mark.engine


def timeline(page) -> list[tuple[str, str]]:
    items = page.locator("#dihya-live .dihya-attempt")
    return [(items.nth(i).get_attribute("data-engine"), items.nth(i).get_attribute("data-outcome"))
            for i in range(items.count())]


def click_test_route(page) -> None:
    page.click("text=Test route")
    expect(page.locator("#dihya-live")).to_have_attribute("data-status", "succeeded")


def test_drag_to_reorder_then_the_next_test_skips_nothing(page, superuser, qcluster, llama,
                                                          dead_url, make_engine, make_route):
    route = make_route("demo", make_engine(dead_url, name="mixtral"),
                       make_engine(llama, name="llama"))
    log_in(page, "admin")
    page.goto(f"/admin/fallbacks/route/{route.pk}/change/")

    # "Test route": a real generation through django-q2, followed live with its attempts.
    click_test_route(page)
    assert timeline(page) == [("mixtral", "connect_error"), ("llama", "ok")]
    expect(page.locator("#dihya-live [data-live=result]")).not_to_be_empty()

    # Drag llama above mixtral by the sortable handle; the order is saved at once.
    handles = page.locator(".inline-group tr.has_original td.original p")
    handles.filter(has_text=": llama").drag_to(handles.filter(has_text=": mixtral"))
    expect(page.locator(".messagelist .success").filter(has_text="Fallback order saved")) \
        .to_contain_text("llama → mixtral")
    assert [s.engine.name for s in Route.objects.get(pk=route.pk).steps.order_by("position")] \
        == ["llama", "mixtral"]

    click_test_route(page)
    assert timeline(page) == [("llama", "ok")]
    screenshot(page, "route-editor")

    page.click("#dihya-live [data-live=link]")
    expect(page.locator("#dihya-live .dihya-attempt")).to_have_count(1)
    screenshot(page, "generation-detail")
    page.goto("/admin/")
    expect(page.locator("#dihya-engine-states")).to_contain_text("llama")
    screenshot(page, "dashboard")
