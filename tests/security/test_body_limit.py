"""A chunked body over the limit is cut off while it arrives, not read whole and refused after."""

from __future__ import annotations

import asyncio
import json

from django.test import override_settings

from dihya.api.bodylimit import BodyLimit


def run(app, chunks: list[bytes]) -> tuple[list[dict], int]:
    sent: list[dict] = []
    pending = [{"type": "http.request", "body": c, "more_body": True} for c in chunks]
    pending[-1]["more_body"] = False
    given = 0

    async def receive():
        nonlocal given
        given += 1
        return pending.pop(0) if pending else {"type": "http.disconnect"}

    async def send(message):
        sent.append(message)

    asyncio.run(BodyLimit(app)({"type": "http", "method": "POST", "path": "/v1/x"}, receive, send))
    return sent, given


async def reading_app(scope, receive, send):
    """Reads like Django does: until the body ends or the client goes away."""
    while True:
        message = await receive()
        if message["type"] == "http.disconnect" or not message.get("more_body"):
            break
    if message["type"] != "http.disconnect":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})


@override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=1_000)
def test_it_stops_reading_past_the_limit_and_answers_413():
    sent, given = run(reading_app, [b"x" * 400] * 100)

    assert given == 3  # 400 + 400 + 400 > 1000: the rest is never pulled from the socket
    assert sent[0]["status"] == 413
    assert json.loads(sent[1]["body"])["error"]["code"] == "request_too_large"


@override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=1_000)
def test_it_lets_a_body_within_the_limit_through():
    sent, _ = run(reading_app, [b"x" * 400, b"x" * 400])

    assert sent[0]["status"] == 200
