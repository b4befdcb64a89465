"""API paths answer 404 and 405 in OpenAI's error shape too, never with an HTML page.

Django's resolver and ninja's method dispatch answer those before any of our views runs, with
HTML or plain text; an OpenAI client would then fail to parse the error. This middleware
rewrites only those two statuses, only on API paths, and only when the body is not JSON.
"""

from __future__ import annotations

from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.http import HttpRequest, HttpResponse, JsonResponse

from dihya.api.dialects import anthropic_answer as anthropic
from dihya.generation.errors import Refusal
from dihya.lanes import is_api


def rewrite(request: HttpRequest, response: HttpResponse) -> HttpResponse:
    if response.status_code not in (404, 405) or not is_api(request.path):
        return response
    if response.get("Content-Type", "").startswith("application/json"):
        return response
    if response.status_code == 404:
        refusal = Refusal(404, "not_found", f"No API endpoint at {request.path}.")
    else:
        allowed = response.get("Allow", "") or "another method"
        refusal = Refusal(405, "method_not_allowed",
                          f"{request.method} is not allowed here; use {allowed}.",
                          type_="invalid_request_error")
    body = anthropic.error_body(refusal) if anthropic.speaks_anthropic(request) \
        else refusal.body()
    rewritten = JsonResponse(body, status=refusal.status,
                             headers={"x-should-retry": "false"})  # as dihya.api.refused
    if response.has_header("Allow"):
        rewritten["Allow"] = response["Allow"]
    return rewritten


class ApiErrorShape:
    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Any) -> None:  # sync or async, as Django chooses
        self.get_response = get_response
        if iscoroutinefunction(get_response):
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> Any:
        if iscoroutinefunction(self):
            return self._acall(request)
        return rewrite(request, self.get_response(request))

    async def _acall(self, request: HttpRequest) -> HttpResponse:
        return rewrite(request, await self.get_response(request))
