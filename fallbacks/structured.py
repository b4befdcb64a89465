"""Structured output: whether a non-streamed answer is the JSON the client asked for.

With `response_format` `json_object` the answer must parse as a JSON object; with
`json_schema` it must also validate against the schema. An answer that does not is a failed
attempt of that engine (`invalid_output`, the reason in its detail), so the route falls back
instead of handing the app broken JSON. Streams are relayed as they come: too late to judge.
A tool call is not a text answer and is not judged, nor is an answer cut at the caller's own
`max_tokens` (finish_reason "length"): every engine would be cut at the same place, and
OpenAI hands such an answer back as it is, so the client sees "length" and can ask for more
(failing it ended as a 503 the SDKs retried twice). Never raises anything but ProviderError.

Validation is the client's code on our CPU: it runs off the event loop (a thread), against a
schema the request check has bounded (`dihya.lib.json_schemas`: RE2 patterns, capped `$ref`s
and combinators), and stops after DIHYA_SCHEMA_VALIDATION_SECONDS: an answer that cannot be
judged in time is an invalid attempt, never a stalled process.
"""

from __future__ import annotations

import asyncio
import json

from django.conf import settings

from dihya.lib import json_schemas
from fallbacks.errors import Failure, ProviderError
from fallbacks.spec import ChatRequest, Completion


async def check(request: ChatRequest, completion: Completion) -> Completion:
    rf = request.response_format
    if (rf is None or rf.type == "text" or completion.tool_calls
            or completion.finish_reason == "length"):
        return completion
    try:
        value = json.loads(completion.text)
    except ValueError as exc:
        raise ProviderError(Failure.INVALID_OUTPUT, f"the answer is not JSON: {exc}") from None
    if rf.type == "json_object" and not isinstance(value, dict):
        raise ProviderError(Failure.INVALID_OUTPUT, "the answer is JSON but not an object")
    if rf.type == "json_schema" and rf.schema:
        budget = settings.DIHYA_SCHEMA_VALIDATION_SECONDS
        try:
            # The thread stops itself at the budget; the timeout is for a thread that cannot.
            error = await asyncio.wait_for(asyncio.to_thread(
                json_schemas.first_error, rf.schema, value, budget), budget + 1.0)
        except (json_schemas.OutOfTime, TimeoutError):
            raise ProviderError(Failure.INVALID_OUTPUT,
                                f"the answer could not be validated against the schema in "
                                f"{budget:g} s") from None
        except Exception as exc:  # e.g. a $ref stored before refs were checked
            raise ProviderError(Failure.INVALID_OUTPUT,
                                f"the answer could not be validated against the schema: "
                                f"{type(exc).__name__}") from None
        if error is not None:
            where = "/".join(str(p) for p in error.absolute_path) or "(root)"
            raise ProviderError(Failure.INVALID_OUTPUT,
                                f"the answer does not match the schema at {where}: "
                                f"{error.message}")
    return completion
