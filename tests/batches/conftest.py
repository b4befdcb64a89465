"""Batches through the official openai SDK against a live Dihya, the workers driven here.

The test calls the task functions the django-q2 workers call (`dihya.tasks.run_batch_line`,
`sweep_batches`) on the lines the scheduler queued, so a test decides when a worker runs.
"""

from __future__ import annotations

import io
import json
from typing import Any

import openai
import pytest

from dihya import tasks
from dihya.batches.models import BatchLine
from tests.api.conftest import api, live_server_url, make_key  # noqa: F401 - fixtures
from tests.api.fake_engine import fake_engine  # noqa: F401 - a fixture


def jsonl(*lines: dict[str, Any]) -> io.BytesIO:
    return io.BytesIO("".join(json.dumps(line) + "\n" for line in lines).encode())


def chat_line(custom_id: str, content: str = "Say hello", **body: Any) -> dict[str, Any]:
    return {"custom_id": custom_id, "method": "POST", "url": "/v1/chat/completions",
            "body": {"model": "default", "messages": [{"role": "user", "content": content}],
                     **body}}


def queued() -> list[str]:
    return [str(pk) for pk in BatchLine.objects.filter(status=BatchLine.Status.QUEUED)
            .order_by("client_id", "position").values_list("pk", flat=True)]


def work(rounds: int | None = None) -> int:
    """Run what the scheduler queued, as the workers would, until nothing is left (or for
    `rounds` rounds). Returns how many lines ran."""
    ran = 0
    while (rounds is None or rounds > 0) and (waiting := queued()):
        for line_id in waiting:
            tasks.run_batch_line(line_id)
            ran += 1
        rounds = None if rounds is None else rounds - 1
    tasks.sweep_batches()
    return ran


def sdk_for(url: str, key: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=url + "/v1", api_key=key, max_retries=0, timeout=30)


@pytest.fixture
def routes(api, fake_engine, make_engine, make_route):  # noqa: F811
    chat = make_engine(fake_engine.url, name="fake", capabilities=["chat", "tools"])
    make_route("default", chat, max_tokens=256)
    embedder = make_engine(fake_engine.url, name="fake-embed", model="e5",
                           capabilities=["embeddings"])
    make_route("embed", embedder)


@pytest.fixture
def sdk(api, routes, make_key):  # noqa: F811
    return sdk_for(api, make_key(routes=["default", "embed"]))
