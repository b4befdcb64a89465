"""`{% controller %}`: who is responsible for a person's data, on every people-facing page.

GDPR art. 13 asks that a person be told the controller's identity and contact details, the
data-protection officer's contact and where the policy is, when their data is collected:
people meet Dihya only on these pages, so each one says it (from the DIHYA_CONTROLLER_* and
DIHYA_DPO_CONTACT / DIHYA_PRIVACY_POLICY_URL settings).
"""

from __future__ import annotations

from typing import Any

from django import template
from django.conf import settings

register = template.Library()


@register.inclusion_tag("privacy/controller.html")
def controller() -> dict[str, Any]:
    contact = settings.DIHYA_CONTROLLER_CONTACT
    dpo = settings.DIHYA_DPO_CONTACT
    return {"name": settings.DIHYA_CONTROLLER_NAME,
            "contact": contact, "contact_is_email": "@" in contact and " " not in contact,
            "dpo": dpo, "dpo_is_email": "@" in dpo and " " not in dpo,
            "policy_url": settings.DIHYA_PRIVACY_POLICY_URL}
