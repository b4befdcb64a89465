"""The engine form's "Test connection" view: unsaved values, causes with their fixes."""

from __future__ import annotations

from fallbacks import connection
from fallbacks.errors import Failure, ProviderError
from fallbacks.spec import EngineSpec

URL = "/admin/console/engines/connection/"


def spec(**changes: object) -> EngineSpec:
    values = {"id": None, "name": "e", "provider": "openai", "base_url": "http://10.0.0.5:8081/v1",
              "model": "m", "api_key": "", "connect_timeout": 2.0, "read_timeout": 30.0,
              "total_timeout": 120.0} | changes
    return EngineSpec(**values)  # type: ignore[arg-type]


def test_it_names_the_form_errors_it_cannot_test_with(admin_client, db):
    answer = admin_client.post(URL, {"provider": "openai", "base_url": "not a url",
                                     "model": "m", "connect_timeout": "-1",
                                     "read_timeout": "30", "total_timeout": "120"}).json()

    assert answer["ok"] is False
    assert set(answer["errors"]) == {"base_url", "connect_timeout"}
    assert "base url" in answer["fix"]


def test_it_says_when_the_key_is_refused_and_where_to_fix_it():
    cause, fix = connection.explain(ProviderError(Failure.AUTH, "bad key", status=401), spec(),
                                    "10.0.0.5:8081")

    assert "refused the API key (HTTP 401)" in cause
    assert "API key variable" in fix


def test_it_says_the_url_is_not_callable_before_calling(db):
    from dihya.lib import loop

    result = loop.run(connection.check(spec(base_url="http://user:pw@host/v1")))

    assert result.ok is False
    assert "credentials" in result.cause


def test_testing_needs_the_right_to_add_or_change_engines(client, django_user_model, db):
    django_user_model.objects.create_user("viewer", password="pw", is_staff=True)
    client.login(username="viewer", password="pw")

    assert client.post(URL, {"provider": "openai"}).status_code == 403
