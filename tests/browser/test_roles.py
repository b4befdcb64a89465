"""An Auditor reads generations in the browser but cannot open an engine or see a secret."""

from __future__ import annotations

from django.contrib.auth.models import Group

from dihya.console import roles
from fallbacks.models import Engine
from tests.browser.conftest import PASSWORD, log_in

SECRET = "sk-browser-secret-0123456789"


def test_an_auditor_cannot_open_an_engine_or_see_a_secret(page, django_user_model, make_engine):
    roles.ensure()
    auditor = django_user_model.objects.create_user("audrey", password=PASSWORD, is_staff=True)
    auditor.groups.add(Group.objects.get(name=roles.AUDITORS))
    engine = make_engine("http://127.0.0.1:9/v1", name="paid")
    engine.set_api_key(SECRET)
    engine.save()
    log_in(page, "audrey")

    assert page.locator("#dashboard").is_visible()
    assert page.locator("#nav-sidebar a", has_text="Engines").count() == 0
    assert SECRET not in page.content()
    for url in (f"/admin/fallbacks/engine/{engine.pk}/change/", "/admin/fallbacks/engine/"):
        response = page.goto(url)
        assert response is not None and response.status == 403, url
        assert SECRET not in page.content()
    assert page.goto("/admin/gateway/generation/").status == 200
    assert page.goto("/admin/gateway/apikey/").status == 403
    assert Engine.objects.get(pk=engine.pk).api_key() == SECRET
