"""Fixtures for consent and audit: a client that serves end users, people, a faked engine."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator

import httpx
import pytest
import respx
from django.contrib.auth import get_user_model

from dihya.gateway.models import ApiClient
from dihya.generation import pipeline
from dihya.generation.requests import ChatBody

ENGINE = "http://engine.test/v1"
DOWN = "http://down.test/v1"
SECRET_PROMPT = "My card is 4111 1111 1111 1111, mail me at alice.martin@example.org"


def reply(text: str = "Bonjour Alice") -> dict:
    return {"id": "x", "object": "chat.completion", "created": 0, "model": "m",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                         "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 7, "completion_tokens": 3, "total_tokens": 10}}


@pytest.fixture
def engine() -> Iterator[respx.Route]:
    """A first engine that fails with a 500 and a second that answers: a fallback every time."""
    with respx.mock(assert_all_called=False) as mock:
        mock.post(f"{DOWN}/chat/completions").mock(httpx.Response(500, json={"error": "boom"}))
        yield mock.post(f"{ENGINE}/chat/completions").mock(side_effect=echo)


def echo(request: httpx.Request) -> httpx.Response:
    """Answers with the question in it, as answers often do: erasure must reach both."""
    question = json.loads(request.content)["messages"][-1]["content"]
    return httpx.Response(200, json=reply(f"Bonjour! You said: {question}"))


@pytest.fixture
def route(make_engine, make_route):
    return make_route("default", make_engine(DOWN, name="down"),
                      make_engine(ENGINE, name="fake"), max_tokens=50)


@pytest.fixture
def helpdesk(db) -> ApiClient:
    # It names people by their Dihya usernames (the default is ids of its own: tests/people).
    return ApiClient.objects.create(name="helpdesk", end_users=True, user_ids="username")


@pytest.fixture
def make_user(db):
    def make(username: str = "alice", password: str = "correct horse battery",  # noqa: S107
             **fields):
        return get_user_model().objects.create_user(
            username, email=fields.pop("email", f"{username}@example.org"), password=password,
            **fields)

    return make


@pytest.fixture
def alice(make_user):
    return make_user("alice", first_name="Alice", last_name="Martin")


def body(user: str | None = "alice", content: str = "Say hello") -> ChatBody:
    return ChatBody(model="default", messages=[{"role": "user", "content": content}], user=user)


def admit(client: ApiClient | None, user: str | None = "alice", content: str = "Say hello",
          queued: bool = False) -> pipeline.Admission:
    return pipeline.admit(pipeline.Caller(client=client), body(user, content), queued=queued)


def run(admission: pipeline.Admission) -> None:
    pipeline.record(admission, asyncio.run(pipeline.execute(admission)))
