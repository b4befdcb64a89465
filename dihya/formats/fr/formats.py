"""Français : les dates de Django, les heures à la seconde."""

from __future__ import annotations

TIME_FORMAT = "H:i:s"
DATETIME_FORMAT = "j F Y H:i:s"
SHORT_DATETIME_FORMAT = "d/m/Y H:i:s"
