"""Client libraries, unchanged, against a live Dihya: the fixtures the agent tests use."""

from __future__ import annotations

from tests.agents.scripted_engine import scripted_engine  # noqa: F401 - a fixture
from tests.api.conftest import api, live_server_url, make_key  # noqa: F401 - fixtures
