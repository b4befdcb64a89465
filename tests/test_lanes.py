"""The API lane builds its own middleware chain from DIHYA_API_MIDDLEWARE (dihya.lanes).

Pins the one place where Dihya leans on how Django builds a handler's middleware: if a Django
upgrade stops reading settings.MIDDLEWARE in load_middleware, this fails."""

from __future__ import annotations

from asgiref.sync import async_to_sync
from django.conf import settings
from django.core.handlers.asgi import ASGIHandler
from django.test import override_settings

from dihya.lanes import ApiHandler, is_api

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


def test_the_api_lane_sets_the_security_headers_on_the_event_loop(db, monkeypatch):
    """Django's SecurityMiddleware, run without its two thread hops: its methods are called on
    the event loop's thread, and the API's answers carry its headers."""
    import threading

    from django.middleware.security import SecurityMiddleware

    threads: set[int] = set()
    original = SecurityMiddleware.process_request

    def noting(self, request):
        threads.add(threading.get_ident())
        return original(self, request)

    monkeypatch.setattr(SecurityMiddleware, "process_request", noting)

    status, headers, loop_thread = async_to_sync(call)(ApiHandler())

    assert status == 401  # no key: still answered through the whole chain
    assert headers[b"X-Content-Type-Options"] == b"nosniff"
    assert headers[b"Referrer-Policy"] == b"same-origin"
    assert threads == {loop_thread}


async def call(handler) -> tuple[int, dict[bytes, bytes], int]:
    """GET /v1/models through `handler` alone: (status, headers, the event loop's thread)."""
    import threading

    from asgiref.testing import ApplicationCommunicator

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
             "method": "GET", "scheme": "http", "path": "/v1/models", "raw_path":
             b"/v1/models", "query_string": b"", "root_path": "", "headers": [
                 (b"host", b"127.0.0.1")], "client": ("127.0.0.1", 1),
             "server": ("127.0.0.1", 80)}
    app = ApplicationCommunicator(handler, scope)
    await app.send_input({"type": "http.request", "body": b""})
    start = await app.receive_output(5)
    await app.receive_output(5)
    return start["status"], dict(start["headers"]), threading.get_ident()
