"""A bare relay on Dihya's stack, the floor issue 18 measures the gateway against.

One Django async view, its body parsed by django-ninja into a pydantic schema of the chat
request, forwarded with one shared `httpx.AsyncClient` to `BENCH_RELAY_UPSTREAM` (the fake
upstream's `…/ok/v1`); no database, no middleware, no key, no quota, no record. Served like the
gateway: `uvicorn bench.relay.app:application` with `DJANGO_SETTINGS_MODULE=bench.relay.settings`.
"""
