"""The API lane builds its own middleware chain from DIHYA_API_MIDDLEWARE (dihya.api.lane).

Pins the one place where Dihya leans on how Django builds a handler's middleware: if a Django
upgrade stops reading settings.MIDDLEWARE in load_middleware, this fails."""

from __future__ import annotations

from django.conf import settings
from django.core.handlers.asgi import ASGIHandler
from django.test import override_settings

from dihya.api.lane import ApiHandler, is_api

built: list[str] = []


class ApiOnly:
    def __init__(self, get_response):
        built.append("api")
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)


class ConsoleOnly(ApiOnly):
    def __init__(self, get_response):
        built.append("console")
        self.get_response = get_response


@override_settings(DIHYA_API_MIDDLEWARE=[f"{__name__}.ApiOnly"],
                   MIDDLEWARE=[f"{__name__}.ConsoleOnly"])
def test_the_api_handler_builds_only_the_api_middleware():
    built.clear()
    ApiHandler()
    assert built == ["api"]
    ASGIHandler()
    assert built == ["api", "console"]
    assert [f"{__name__}.ConsoleOnly"] == settings.MIDDLEWARE  # put back


def test_only_api_paths_take_the_api_lane():
    assert is_api("/v1/chat/completions") and is_api("/api/v1/generations")
    assert not is_api("/api/v1/docs") and not is_api("/admin/") and not is_api("/privacy/")
