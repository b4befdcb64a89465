"""The alert webhook's body, sent signed through `dihya.lib.outbound` (the one outbound module).

Receivers verify `X-Dihya-Signature: t=<ts>,v1=<HMAC-SHA256 of "<ts>.<body>">` with
DIHYA_WEBHOOK_SECRET (`dihya.lib.outbound.verify` shows how). The body carries the pseudonymous
subject and numbers only. Webhook URLs come from settings (DIHYA_ALERT_WEBHOOKS), and still
go through the outbound SSRF guard.
"""

from __future__ import annotations

from typing import Any

import httpx

from dihya.lib import outbound
from quotas.models import Alert


def payload(alert: Alert) -> dict[str, Any]:
    return {
        "type": "quota.alert" if alert.kind == Alert.Kind.THRESHOLD else "engine.out_of_quota",
        "alert": {"id": alert.pk, "kind": alert.kind, "subject": alert.subject,
                  "metric": alert.metric, "period": alert.period, "threshold": alert.threshold,
                  "limit": alert.amount, "used": alert.used,
                  "window_start": alert.window_start.isoformat(), "message": alert.message,
                  "created": alert.created.isoformat()},
    }


def post(url: str, alert: Alert) -> httpx.Response:
    """Raises outbound.UnsafeURL (permanent) or httpx.HTTPError (worth retrying)."""
    return outbound.post_signed(url, payload(alert), outbound.secret())
