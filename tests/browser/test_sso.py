"""Sign-in with a real OpenID Connect provider (npm's oidc-provider on loopback), in Chromium:
an account made on first sign-in, its role from a claim, consent, sign-out, and a deactivated
account refused. No mock of the provider: tests/oidc/server.js is the certified library."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from audit import consent
from audit.models import AuditEvent, ExternalIdentity
from dihya.console import roles, sso
from dihya.gateway import keys
from dihya.lib.pseudonyms import pseudonym
from tests.audit.conftest import engine, route  # noqa: F401 - the faked engine and its route
from tests.conftest import Process, free_port, wait_until
from tests.people.conftest import chat as chat_here

PROVIDER = Path(__file__).resolve().parent.parent / "oidc"


def installed() -> bool:
    if (PROVIDER / "node_modules" / "oidc-provider").exists():
        return True
    if not shutil.which("npm"):
        return False
    subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=PROVIDER, check=True,
                   capture_output=True, timeout=300)
    return True


@pytest.fixture
def provider(live_server, settings, tmp_path) -> Iterator[str]:
    if not shutil.which("node") or not installed():
        pytest.skip("Node.js and npm are needed for the OIDC provider (tests/oidc)")
    port = free_port()
    issuer = f"http://127.0.0.1:{port}"
    proc = Process(["node", str(PROVIDER / "server.js"), str(port),
                    f"{live_server.url}/accounts/oidc/callback/", f"{live_server.url}/"],
                   env={**os.environ, "OIDC_GROUPS": json.dumps({"olga": ["llm-admins"]})},
                   log=tmp_path / "oidc.log")

    def up() -> bool:
        try:
            return httpx.get(f"{issuer}/.well-known/openid-configuration").status_code == 200
        except httpx.HTTPError:
            return False

    wait_until(up, timeout=20, what="the OIDC provider")
    settings.DIHYA_OIDC_ISSUER = issuer
    settings.DIHYA_OIDC_CLIENT_ID = "dihya"
    settings.DIHYA_OIDC_CLIENT_SECRET = "dihya-test-secret"
    settings.DIHYA_OIDC_SCOPES = "openid email profile groups"
    settings.DIHYA_OIDC_ROLES_MAP = {"llm-admins": roles.OPERATORS}
    sso._discovered.clear()
    sso.discovery()  # now, before a test's faked engine (respx) takes over httpx
    yield issuer
    sso._discovered.clear()
    proc.stop()


def sign_in_at_provider(page, login: str) -> None:
    page.click("#sso")
    page.wait_for_selector("input[name=login]")
    page.fill("input[name=login]", login)
    page.fill("input[name=password]", "anything")
    page.click("button[type=submit]")
    consent_button = page.locator("button[type=submit]", has_text="Continue")
    if consent_button.count():
        consent_button.click()
    page.wait_for_load_state()


def chat(key: str, user: str):
    with ThreadPoolExecutor(1) as pool:  # Playwright's event loop runs in this thread
        return pool.submit(chat_here, key, user).result()


def test_a_person_signs_in_with_the_provider_gets_a_role_consents_and_signs_out(
        page, provider, django_user_model, route, engine):  # noqa: F811
    from dihya.gateway.models import ApiClient

    roles.ensure()
    consent.get_purpose()
    page.goto("/accounts/login/?next=/admin/")
    sign_in_at_provider(page, "olga")

    page.wait_for_selector("#dashboard")
    olga = django_user_model.objects.get(username="olga")
    assert olga.is_staff and not olga.is_superuser and not olga.has_usable_password()
    assert list(olga.groups.values_list("name", flat=True)) == [roles.OPERATORS]
    assert ExternalIdentity.objects.get(user=olga).external_id == "olga"  # sub = the login
    event = AuditEvent.objects.get(kind="sso_sign_in")
    assert event.subject == pseudonym("olga") and event.details["roles"] == [roles.OPERATORS]

    page.goto("/privacy/")
    page.click("text=I agree")
    page.wait_for_selector("text=Withdraw my consent")
    intranet = ApiClient.objects.create(name="intranet", end_users=True, user_ids="sub")
    intranet.routes.add(route)
    key = keys.issue(intranet)[1]
    assert chat(key, "olga").status_code == 200  # the app names her by the provider's sub

    page.click("text=Sign out")
    page.wait_for_url("**/accounts/login/")
    assert page.goto("/admin/").url.endswith("/admin/login/?next=/admin/")


def test_a_deactivated_account_is_refused(page, provider, django_user_model):
    roles.ensure()
    page.goto("/accounts/login/")
    sign_in_at_provider(page, "dora")
    page.wait_for_url("**/privacy/")
    dora = django_user_model.objects.get(username="dora")
    assert not dora.is_staff and not dora.groups.exists()
    page.click("text=Sign out")
    django_user_model.objects.filter(pk=dora.pk).update(is_active=False)

    page.goto("/accounts/login/")
    page.click("#sso")  # the provider still knows her: straight back with a code
    page.wait_for_url("**/accounts/login/?sso=failed")
    assert page.locator("[role=alert]").is_visible()
    assert page.goto("/privacy/").url.endswith("/accounts/login/?next=/privacy/")
