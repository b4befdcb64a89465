"""Refuse request bodies over DATA_UPLOAD_MAX_MEMORY_SIZE while they arrive, at the ASGI edge.

Django enforces the limit only when the client announces a Content-Length; a chunked body has
none and would be read whole first (into memory or a temporary file). This wrapper counts the
bytes as the server hands them over and, past the limit, tells Django the client went away and
answers 413 itself, in the API's error shape. It reads no body and keeps no state between
requests.
"""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings

Message = dict[str, Any]
#: File uploads (a batch's JSONL) may be up to DIHYA_FILE_MAX_BYTES, plus the multipart frame.
UPLOADS = "/v1/files"
UPLOAD_SLACK = 64 * 1024


def too_large_body(limit: int) -> bytes:
    return json.dumps({"error": {
        "message": f"The request body is larger than {limit} bytes.",
        "type": "invalid_request_error", "param": None, "code": "request_too_large"}}).encode()


class BodyLimit:
    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        if scope.get("path") == UPLOADS and limit is not None:  # a batch input file
            limit = max(limit, settings.DIHYA_FILE_MAX_BYTES + UPLOAD_SLACK)
        seen = 0
        over = False
        started = False

        async def counted_receive() -> Message:
            nonlocal seen, over
            if over:
                return {"type": "http.disconnect"}
            message: Message = await receive()
            if message["type"] == "http.request" and limit is not None:
                seen += len(message.get("body", b""))
                if seen > limit:
                    over = True
                    return {"type": "http.disconnect"}
            return message

        async def tracked_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        await self.app(scope, counted_receive, tracked_send)
        if over and not started:
            body = too_large_body(limit)
            await send({"type": "http.response.start", "status": 413,
                        "headers": [(b"content-type", b"application/json"),
                                    (b"content-length", str(len(body)).encode()),
                                    (b"connection", b"close")]})
            await send({"type": "http.response.body", "body": body})
