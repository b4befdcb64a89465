"""Structured output: whether a non-streamed answer is the JSON the client asked for.

With `response_format` `json_object` the answer must parse as a JSON object; with
`json_schema` it must also validate against the schema. An answer that does not is a failed
attempt of that engine (`invalid_output`, the reason in its detail), so the route falls back
instead of handing the app broken JSON. Streams are relayed as they come: too late to judge.
A tool call is not a text answer and is not judged, nor is an answer cut at the caller's own
`max_tokens` (finish_reason "length"): every engine would be cut at the same place, and
OpenAI hands such an answer back as it is, so the client sees "length" and can ask for more
(failing it ended as a 503 the SDKs retried twice). Never raises anything but ProviderError.
"""

from __future__ import annotations

import json

import jsonschema

from fallbacks.errors import Failure, ProviderError
from fallbacks.spec import ChatRequest, Completion


def check(request: ChatRequest, completion: Completion) -> Completion:
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
        validator = jsonschema.validators.validator_for(rf.schema)(rf.schema)
        error = jsonschema.exceptions.best_match(validator.iter_errors(value))
        if error is not None:
            where = "/".join(str(p) for p in error.absolute_path) or "(root)"
            raise ProviderError(Failure.INVALID_OUTPUT,
                                f"the answer does not match the schema at {where}: "
                                f"{error.message}")
    return completion
