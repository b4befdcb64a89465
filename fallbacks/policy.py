"""What the runner does after a failed attempt, by failure class, and within what budget.

The defaults follow a simple idea: a failure that says "this engine is not there" (refused,
timeout, quota) moves on at once; a failure that may be a hiccup (5xx) is retried on the same
engine a few times with jittered backoff; a failure that says "the request is wrong" (400)
stops, because no other engine will like it better — except "context too long", which a
larger engine may accept. Routes may tune the numbers (fields on `fallbacks.models.Route`).

This module decides; it never sleeps, calls an engine or touches the database.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from enum import StrEnum

from fallbacks.errors import Failure


class Action(StrEnum):
    NEXT = "next"    # try the next engine now
    RETRY = "retry"  # try the same engine again after a backoff
    STOP = "stop"    # give up: the request itself is wrong


ON_FAILURE: dict[Failure, Action] = {
    Failure.CONNECT: Action.NEXT,
    Failure.TIMEOUT: Action.NEXT,
    Failure.RATE_LIMITED: Action.NEXT,  # the breaker puts the engine in cooldown
    Failure.QUOTA: Action.NEXT,
    Failure.SERVER: Action.RETRY,
    Failure.BAD_REQUEST: Action.STOP,
    Failure.CONTEXT_TOO_LONG: Action.NEXT,
    Failure.BAD_RESPONSE: Action.NEXT,
    Failure.NOT_CONFIGURED: Action.NEXT,
    Failure.AUTH: Action.NEXT,
    Failure.UNSUPPORTED: Action.NEXT,     # another engine of the route may have it
    Failure.INVALID_OUTPUT: Action.NEXT,  # another model may follow the schema
}

#: Failures that say nothing about the engine's health (the request or our configuration).
NOT_THE_ENGINE = frozenset({Failure.BAD_REQUEST, Failure.CONTEXT_TOO_LONG,
                            Failure.NOT_CONFIGURED, Failure.UNSUPPORTED,
                            Failure.INVALID_OUTPUT})

#: Failures that put the engine in a quota cooldown instead of counting towards opening.
COOLDOWN = frozenset({Failure.RATE_LIMITED, Failure.QUOTA})


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    server_retries: int = 1
    retry_backoff: float = 0.2
    max_attempts: int = 4
    deadline: float | None = None
    first_token_timeout: float | None = None
    when_full: str = "next"  # or "wait" for a slot within the deadline

    def action(self, failure: Failure, retries_done: int) -> Action:
        """What to do after `failure` on an engine already retried `retries_done` times."""
        action = ON_FAILURE.get(failure, Action.NEXT)
        if action is Action.RETRY and retries_done >= self.server_retries:
            return Action.NEXT
        return action

    def backoff(self, retries_done: int) -> float:
        """Full jitter: a random delay up to base x 2^n, so retrying clients spread out."""
        ceiling = self.retry_backoff * (2 ** retries_done)
        return random.uniform(ceiling / 2, ceiling)  # noqa: S311 - jitter, not a secret

    def deadline_for(self, default: float) -> float:
        return min(self.deadline, default) if self.deadline else default


DEFAULT = RetryPolicy()
