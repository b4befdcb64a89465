"""The messages of a chat body, in every shape OpenAI's API and agent frameworks send them.

System, user and developer messages with text or content parts (`text`, `image_url` as a URL
or a data URL, `input_audio`); assistant messages that made tool calls (their content may be
null or empty); `tool` messages answering one call by its `tool_call_id`; legacy `function`
messages answering the previous assistant `function_call` by its `name` (records.py maps
them to tool messages). Every field a
message may carry is declared: anything else is refused (`unsupported_parameter`), never
dropped. Images are capped (DIHYA_MAX_IMAGE_BYTES) and only http(s) or data URLs are taken:
this module never fetches a URL, the engine does.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from django.conf import settings
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
)

from dihya.generation import validation as security

# Every string a client sends: no control character but tab/newline/CR, no lone surrogate.
Text = Annotated[str, AfterValidator(security.clean_text)]
# Text the model reads outside a message's content, held to the deny patterns too.
Screened = Annotated[str, AfterValidator(security.clean_text), AfterValidator(security.screen)]
STRICT = ConfigDict(extra="forbid")
DATA_URL = re.compile(r"^data:(image/[a-z0-9.+-]+);base64,", re.IGNORECASE)
MAX_IMAGE_URL = 2048  # characters, for an http(s) URL


#: Anthropic-style prompt caching on a part (`{"type": "ephemeral"}`), as clients built for
#: both APIs send it: accepted, dropped and named in X-Dihya-Dropped-Params.
CacheControl = dict[str, Any] | None


class TextPart(BaseModel):
    model_config = STRICT
    type: Literal["text"]
    text: Text
    cache_control: CacheControl = None


class ImageURL(BaseModel):
    model_config = STRICT
    url: str = Field(..., description="An http(s) URL or a base64 data URL.")
    detail: Literal["auto", "low", "high"] | None = None

    @field_validator("url")
    @classmethod
    def _image(cls, value: str) -> str:
        if match := DATA_URL.match(value):
            size = (len(value) - match.end()) * 3 // 4
            if size > settings.DIHYA_MAX_IMAGE_BYTES:
                raise ValueError(f"the image is larger than {settings.DIHYA_MAX_IMAGE_BYTES} "
                                 "bytes")
            return value
        if not value.startswith(("https://", "http://")):
            raise ValueError("an image is an http(s) URL or a data:image/...;base64, URL")
        if len(value) > MAX_IMAGE_URL:
            raise ValueError(f"an image URL has at most {MAX_IMAGE_URL} characters")
        return security.clean_text(value)


class ImagePart(BaseModel):
    model_config = STRICT
    type: Literal["image_url"]
    image_url: ImageURL
    cache_control: CacheControl = None


class InputAudio(BaseModel):
    model_config = STRICT
    data: str = Field(..., description="Base64-encoded audio.")
    format: Literal["wav", "mp3"]

    @field_validator("data")
    @classmethod
    def _size(cls, value: str) -> str:
        if len(value) * 3 // 4 > settings.DIHYA_MAX_IMAGE_BYTES:
            raise ValueError(f"the audio is larger than {settings.DIHYA_MAX_IMAGE_BYTES} bytes")
        return value


class AudioPart(BaseModel):
    model_config = STRICT
    type: Literal["input_audio"]
    input_audio: InputAudio
    cache_control: CacheControl = None


ContentPart = Annotated[TextPart | ImagePart | AudioPart, Field(discriminator="type")]


class CalledFunction(BaseModel):
    model_config = STRICT
    name: Text = Field(..., min_length=1, max_length=64)
    arguments: Screened = Field(..., description="JSON text, as the model wrote it.")


class ToolCallIn(BaseModel):
    model_config = STRICT
    id: Text = Field(..., min_length=1, max_length=200)
    type: Literal["function"] = "function"
    function: CalledFunction


class ChatMessage(BaseModel):
    """One message. Field order matters: validators read the fields declared before them."""

    model_config = STRICT

    role: Literal["system", "user", "assistant", "developer", "tool", "function"]
    tool_calls: list[ToolCallIn] | None = Field(None, description="Assistant messages only.")
    function_call: CalledFunction | None = Field(None, description="Legacy: one call.")
    tool_call_id: Text | None = Field(None, max_length=200, validate_default=True,
                                      description="Required on tool messages.")
    content: Text | list[ContentPart] | None = Field(
        None, validate_default=True,
        description="Text or parts; null or empty on an assistant message with tool calls.")
    name: Text | None = Field(None, max_length=64, validate_default=True,
                              description="Required on function messages.")
    # What the SDKs put on an assistant message they hand back (message.model_dump()).
    refusal: Screened | None = None
    audio: dict[str, Any] | None = None
    annotations: list[Any] | None = None

    @field_validator("tool_calls", "function_call")
    @classmethod
    def _from_assistant(cls, value: Any, info: ValidationInfo) -> Any:
        if value and info.data.get("role") != "assistant":
            raise ValueError("only assistant messages carry tool calls")
        return value

    @field_validator("tool_call_id")
    @classmethod
    def _answers_a_call(cls, value: str | None, info: ValidationInfo) -> str | None:
        if info.data.get("role") == "tool" and not value:
            raise ValueError("a tool message must say which call it answers (tool_call_id)")
        return value

    @field_validator("content")
    @classmethod
    def _allowed(cls, value: str | list[Any] | None,
                 info: ValidationInfo) -> str | list[Any] | None:
        role = info.data.get("role")
        if value is None:
            if role != "assistant" or not (info.data.get("tool_calls")
                                           or info.data.get("function_call")):
                raise ValueError("content is required (null only on an assistant message "
                                 "with tool calls)")
            return value
        if isinstance(value, list) and role != "user" and any(
                not isinstance(part, TextPart) for part in value):
            raise ValueError("only user messages may carry images or audio")
        security.check_message(text_of(value))
        return value

    @field_validator("name")
    @classmethod
    def _names_its_function(cls, value: str | None, info: ValidationInfo) -> str | None:
        if info.data.get("role") == "function" and not value:
            raise ValueError("a function message must name the function it answers (name)")
        return value

    @property
    def text(self) -> str:
        """Everything in the message that is text to the model, for limits and deny patterns:
        its content and the arguments of its tool calls."""
        text = text_of(self.content)
        for call in self.tool_calls or ():
            text += call.function.arguments
        return text


def text_of(content: str | list[Any] | None) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    return "".join(part.text for part in content if isinstance(part, TextPart))
