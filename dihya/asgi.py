import asyncio
import os
from typing import Any

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dihya.settings")
django_application = get_asgi_application()

from dihya.api.bodylimit import BodyLimit  # noqa: E402 - needs the settings configured above
from dihya.generation import recorder  # noqa: E402 - needs the settings configured above
from dihya.lanes import ApiHandler, Lanes  # noqa: E402 - needs the settings configured above


class Lifespan:
    """ASGI's lifespan protocol, answered here since Django's handler does not speak it: when
    the server shuts down (uvicorn after SIGTERM or SIGINT, once its requests are done), the
    batched recorder writes what it still holds (`dihya.generation.recorder`). uvicorn then
    re-raises the signal, so the process never reaches atexit: this is the flush that counts.
    Servers without lifespan (granian's asginl) rely on the recorder's atexit hook."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "lifespan":
            await self.app(scope, receive, send)
            return
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await asyncio.to_thread(recorder.recorder.close)
                await send({"type": "lifespan.shutdown.complete"})
                return


application = Lifespan(BodyLimit(Lanes(ApiHandler(), django_application)))
