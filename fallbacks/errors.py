"""One family of errors for every provider, classified for the runner.

Providers translate whatever their wire protocol says into a `Failure`; the runner decides
what to do from the class alone (move on, cool down, stop), never from a provider's text.
"""

from __future__ import annotations

from enum import StrEnum

from fallbacks.text import clean_output


class Failure(StrEnum):
    CONNECT = "connect_error"          # refused, reset, DNS: the engine is not there
    TIMEOUT = "timeout"                # connect, first token or total deadline passed
    SERVER = "server_error"            # HTTP 5xx
    RATE_LIMITED = "rate_limited"      # HTTP 429, slow down until Retry-After
    QUOTA = "quota_exhausted"          # provider says the account is out of credit/quota
    BAD_REQUEST = "bad_request"        # the request itself is wrong: no other engine will help
    CONTEXT_TOO_LONG = "context_too_long"  # wrong for this engine, maybe fine for a larger one
    BAD_RESPONSE = "bad_response"      # the engine answered something we cannot read
    NOT_CONFIGURED = "not_configured"  # e.g. no API key: skipped without a call
    AUTH = "auth_error"                # 401/403 from the provider: our key is wrong
    UNSUPPORTED = "unsupported"        # the engine cannot do what this request needs (tools…)
    INVALID_OUTPUT = "invalid_output"  # asked for JSON (or a schema), answered something else


class ProviderError(Exception):
    def __init__(
        self,
        failure: Failure,
        detail: str = "",
        *,
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(f"{failure}: {detail}" if detail else str(failure))
        self.failure = failure
        self.detail = clean_output(detail)[:500]  # an engine's words: stored as they come
        self.status = status
        self.retry_after = retry_after
