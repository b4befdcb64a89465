"""A live ASGI server for the API tests: uvicorn in a thread of the test process.

In-process rather than a subprocess: it starts in milliseconds, shares the test database and
the local-memory cache (so a key revoked by a test is revoked for the server at once), and
serves the real Django ASGI application exactly as `make run` does.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

import pytest
import uvicorn
from django.db import connections

from dihya.gateway import keys
from dihya.gateway.models import ApiClient
from dihya.generation import recorder
from fallbacks.models import Route
from tests.conftest import free_port, wait_until


@pytest.fixture(scope="session")
def live_server_url() -> Iterator[str]:
    from dihya.asgi import application

    # Server threads close their connection after each request, so that the test database
    # can be flushed between tests and dropped at the end (PostgreSQL refuses while in use).
    connections.settings["default"]["CONN_MAX_AGE"] = 0
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(application, host="127.0.0.1", port=port,
                                           lifespan="off", log_level="warning",
                                           timeout_graceful_shutdown=2))
    thread = threading.Thread(target=server.run, name="uvicorn", daemon=True)
    thread.start()
    wait_until(lambda: server.started, timeout=15, what="uvicorn")
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)


@pytest.fixture
def api(live_server_url: str, transactional_db) -> Iterator[str]:
    """Base URL of the live server, with a test database it can see.

    The server records calls as production does, batched: after the answer has left. What a
    test's calls queued is written before the database is emptied for the next test."""
    yield live_server_url
    recorder.flush()


@pytest.fixture
def make_key(transactional_db) -> Callable[..., str]:
    """make_key("app", routes=["default"]) → a raw key for that client (created if needed)."""

    def make(client: str = "app", *, routes: list[str] = ("default",), **fields) -> str:  # type: ignore[assignment]
        api_client, _ = ApiClient.objects.get_or_create(name=client)
        api_client.routes.add(*Route.objects.filter(name__in=routes))
        return keys.issue(api_client, **fields)[1]

    return make
