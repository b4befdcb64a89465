"""An admin edits a route's fallback order with the mouse only: adds an engine, drags rows
twice, removes one — on a route whose positions do not start at 0 (an imported or long-edited
route) — and every step is in the database right after it."""

from __future__ import annotations

from playwright.sync_api import expect

from fallbacks.models import Route, RouteEngine
from tests.browser.conftest import log_in


def saved_order(route: Route) -> list[str]:
    return [s.engine.name for s in RouteEngine.objects.filter(route=route)
            .select_related("engine").order_by("position", "id")]


def handle(page, engine: str):
    """The drag handle of a saved row (sortable2's: the row's title cell)."""
    return page.locator(".inline-group tr.has_original td.original p").filter(
        has_text=f": {engine}")


def drag(page, engine: str, onto: str) -> None:
    handle(page, engine).drag_to(handle(page, onto))


def test_add_reorder_twice_and_remove_by_mouse(page, superuser, dead_url, make_engine):
    first, second, third = (make_engine(dead_url, name=n) for n in ("first", "second", "third"))
    make_engine(dead_url, name="spare")
    route = Route.objects.create(name="edited")
    for position, engine in zip((5, 6, 9), (first, second, third), strict=True):
        RouteEngine.objects.create(route=route, engine=engine, position=position)
    log_in(page, "admin")
    page.goto(f"/admin/fallbacks/route/{route.pk}/change/")

    # The fallback order is the first thing on the page, above the route's settings.
    order_box = page.locator(".inline-group").bounding_box()
    name_box = page.locator("#id_name").bounding_box()
    assert order_box and name_box and order_box["y"] < name_box["y"]

    # Add another: a new row to fill in, not a save that loses it.
    page.get_by_text("Add another Engine in route").click()
    new_row = page.locator(".inline-group tr.dynamic-steps").last
    expect(new_row).to_be_visible()
    page.wait_for_timeout(500)  # a save would have reloaded the page by now
    expect(new_row).to_be_visible()
    assert saved_order(route) == ["first", "second", "third"]
    new_row.locator("select").select_option(label="spare")
    page.get_by_role("button", name="Save and continue editing").click()
    expect(page.locator(".messagelist .success").filter(has_text="Fallback order saved")) \
        .to_contain_text("first → second → third → spare")
    assert saved_order(route) == ["first", "second", "third", "spare"]

    # Drag the new engine to the top: saved at once, and said so.
    drag(page, "spare", onto="first")
    expect(page.locator(".messagelist .success").filter(has_text="Fallback order saved")) \
        .to_contain_text("spare → first → second → third")
    assert saved_order(route) == ["spare", "first", "second", "third"]

    # A second drag on the renumbered positions (1..n now) is saved too.
    drag(page, "third", onto="spare")
    expect(page.locator(".messagelist .success").filter(has_text="Fallback order saved")) \
        .to_contain_text("third → spare → first → second")
    assert saved_order(route) == ["third", "spare", "first", "second"]

    # Remove one: tick its Delete box, then Save.
    row = page.locator(".inline-group tr.has_original").filter(
        has=page.locator("td.original p", has_text=": first"))
    row.locator("td.delete input[type=checkbox]").check()
    page.get_by_role("button", name="Save and continue editing").click()
    expect(page.locator(".messagelist .success").filter(has_text="Fallback order saved")) \
        .to_contain_text("third → spare → second")
    assert saved_order(route) == ["third", "spare", "second"]
