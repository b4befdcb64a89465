"""The body a client sends for a generation, as OpenAI's chat completions API defines it.

One schema for every entry point (chat completions, jobs, the `generate` command): what it
accepts is what the OpenAPI document says. Unknown fields are ignored, as OpenAI's SDKs send
fields we do not use (`n`, `logprobs`…); known fields are checked strictly. Limits on
messages and characters, and the deny patterns, are read from settings when a body is
validated (dihya.generation.validation), so they follow the environment and `override_settings`.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

from dihya.generation import validation as security

# Every string a client sends: no control character but tab/newline/CR, no lone surrogate.
Text = Annotated[str, AfterValidator(security.clean_text)]


class ContentPart(BaseModel):
    type: Literal["text"]
    text: Text


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="ignore")

    role: Literal["system", "user", "assistant", "developer", "tool"]
    content: Text | list[ContentPart] = Field(..., description="Text, or a list of text parts.")
    name: Text | None = Field(None, max_length=64)

    @field_validator("content")
    @classmethod
    def _allowed(cls, value: str | list[ContentPart]) -> str | list[ContentPart]:
        security.check_message(text_of(value))
        return value

    @property
    def text(self) -> str:
        return text_of(self.content)


def text_of(content: str | list[ContentPart]) -> str:
    if isinstance(content, str):
        return content
    return "".join(part.text for part in content)


class StreamOptions(BaseModel):
    include_usage: bool = False


class ChatBody(BaseModel):
    model_config = ConfigDict(extra="ignore")

    model: Text = Field(..., min_length=1, max_length=64, description="The route's name.")
    messages: Annotated[list[ChatMessage], Field(min_length=1)]
    max_tokens: int | None = Field(None, ge=1)
    max_completion_tokens: int | None = Field(None, ge=1)
    temperature: float | None = Field(None, ge=0, le=2)
    top_p: float | None = Field(None, ge=0, le=1)
    stop: Text | list[Text] | None = None
    seed: int | None = None
    stream: bool = False
    stream_options: StreamOptions | None = None
    user: Text | None = Field(None, max_length=256,
                              description="The end user on whose behalf the call is made.")

    @field_validator("messages")
    @classmethod
    def _within_limits(cls, value: list[ChatMessage]) -> list[ChatMessage]:
        security.check_conversation([message.text for message in value])
        return value

    @field_validator("stop")
    @classmethod
    def _stop_list(cls, value: str | list[str] | None) -> str | list[str] | None:
        if isinstance(value, list) and len(value) > 4:
            raise ValueError("at most 4 stop sequences")
        return value

    @property
    def stops(self) -> tuple[str, ...]:
        if self.stop is None:
            return ()
        return (self.stop,) if isinstance(self.stop, str) else tuple(self.stop)

    @property
    def requested_max_tokens(self) -> int | None:
        return self.max_completion_tokens or self.max_tokens


class JobBody(ChatBody):
    callback_url: Text | None = Field(None, max_length=500,
                                      description="Where the finished job is POSTed, signed.")
