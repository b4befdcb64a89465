"""English: Django's dates, with 24-hour times to the second."""

from __future__ import annotations

TIME_FORMAT = "H:i:s"
DATETIME_FORMAT = "N j, Y, H:i:s"
SHORT_DATETIME_FORMAT = "Y-m-d H:i:s"
