"""What the quotas app tells the rest of Dihya. Receivers live in `dihya/` (the wiring): this
app does not know how alerts leave (e-mail, signed webhooks: dihya.gateway.deliveries)."""

from __future__ import annotations

from django.dispatch import Signal

# A new alert was recorded (once, however many processes noticed): alert= (quotas.models.Alert).
alert_raised = Signal()
