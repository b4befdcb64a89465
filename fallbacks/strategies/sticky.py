"""Sticky routing: the same end user goes to the same engine while it is healthy.

Rendezvous hashing over the healthy engines the strategy would draw from (weighted by their
weights): each user's engine is stable, an engine going down moves only its own users, and
over many users the split still follows the weights. llama.cpp and vLLM reuse a prompt's
cache when the same conversation comes back to them.
"""

from __future__ import annotations

import hashlib
import math

from fallbacks.spec import EngineSpec
from fallbacks.strategies.base import Ask, Choice


def stick(choice: Choice, ask: Ask, user: str) -> Choice:
    pool = [e for e in choice.engines if ask.available(e) and e.weight > 0]
    if not user or not pool:
        return choice
    home = max(pool, key=lambda e: score(user, e))
    rest = tuple(e for e in choice.engines if e is not home)
    return Choice((home, *rest), f"sticky for this user: {home.name}; then {choice.why}")


def score(user: str, engine: EngineSpec) -> float:
    digest = hashlib.blake2b(f"{engine.id}:{user}".encode(), digest_size=8).digest()
    u = (int.from_bytes(digest, "big") + 1) / (2**64 + 2)  # in (0, 1)
    return -engine.weight / math.log(u)
