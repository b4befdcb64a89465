"""What the fallbacks app tells the rest of Dihya. Receivers live in `dihya/` (the wiring):
this app knows neither quotas nor the audit log.

Both are sent after the change they announce is committed.
"""

from __future__ import annotations

from django.dispatch import Signal

# The provider said the engine is out of quota: engine_name=, until= (aware datetime), detail=.
engine_out_of_quota = Signal()

# An admin forced a breaker: engine_name=, state= ("open" | "closed"), actor=, reason=.
breaker_forced = Signal()
