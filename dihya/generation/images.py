"""Image URLs an engine would fetch: only from the public internet (issue 24, item 8).

An `image_url` part with an http(s) URL is fetched by the engine, from the engine's network:
a URL naming a cloud metadata address, loopback or a private range would make the engine
(a self-hosted server next to Dihya, most often) read its own network for the caller. So
before admission every such URL goes through the outbound address policy
(`dihya.lib.outbound.check_public`: IP literals in every spelling, names resolved under a
deadline and every address they resolve to checked). A name that does not resolve from
here is refused too: Dihya cannot tell where it points. `data:` URLs are never fetched and
always pass. The Anthropic (`image` with a url source) and Responses (`input_image`)
dialects become the same parts, so this covers them.

DIHYA_IMAGE_URLS: `public` (default: the above), `none` (data URLs only), `any` (no check:
the behaviour before, unsafe unless every engine's network holds nothing to protect).

Runs in admission's thread hop (`pipeline.admit`), never on the event loop: resolving blocks.
Each host is resolved once per request.
"""

from __future__ import annotations

from django.conf import settings

from dihya.generation.errors import Refusal
from dihya.generation.messages import ImagePart
from dihya.generation.requests import ChatBody
from dihya.lib import outbound

CODE = "image_url_not_allowed"


def check(body: ChatBody) -> None:
    """Refusal (400 image_url_not_allowed) for the first image URL the policy forbids."""
    mode = settings.DIHYA_IMAGE_URLS
    if mode == "any":
        return
    checked: dict[str, str] = {}  # host → why it is refused ("" when allowed)
    for i, message in enumerate(body.messages):
        if not isinstance(message.content, list):
            continue
        for j, part in enumerate(message.content):
            if not isinstance(part, ImagePart) or part.image_url.url.startswith("data:"):
                continue
            param = f"messages[{i}].content[{j}].image_url.url"
            if mode == "none":
                raise Refusal(400, CODE, "Images are taken here as data URLs only "
                              "(data:image/...;base64,...), not as links.", param=param)
            why = _refused(part.image_url.url, checked)
            if why:
                raise Refusal(400, CODE, f"Invalid value for {param}: the image URL is not "
                              f"allowed ({why}). Send the image as a data URL.", param=param)


def _refused(url: str, checked: dict[str, str]) -> str:
    try:
        _, host, _ = outbound.parse(url)
    except outbound.UnsafeURL as exc:
        return str(exc)
    if host not in checked:
        try:
            outbound.check_public(url)
            checked[host] = ""
        except outbound.UnsafeURL as exc:  # NotResolved too: where it points is unknown
            checked[host] = str(exc)
    return checked[host]
