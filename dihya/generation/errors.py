"""The one error a client is ever told, in OpenAI's shape.

Anything that refuses a request raises `Refusal`; the API turns it into
`{"error": {"message", "type", "param", "code"}}` with its status and headers. `code` values
are part of the public API: never rename one.
"""

from __future__ import annotations

from typing import Any

TYPES = {400: "invalid_request_error", 401: "authentication_error", 403: "permission_error",
         404: "not_found_error", 409: "conflict_error", 413: "invalid_request_error",
         429: "rate_limit_error", 503: "service_unavailable"}


class Refusal(Exception):
    def __init__(self, status: int, code: str, message: str, *, param: str | None = None,
                 type_: str | None = None, headers: dict[str, str] | None = None,
                 extra: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.param = param
        self.type = type_ or TYPES.get(status, "api_error")
        self.headers = headers or {}
        self.extra = extra or {}

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"message": self.message, "type": self.type,
                                 "param": self.param, "code": self.code}
        error.update(self.extra)
        return {"error": error}
