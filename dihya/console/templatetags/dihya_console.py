"""Template helpers of the console's pages."""

from __future__ import annotations

from typing import Any

from django import template

from dihya.console import sections

register = template.Library()


@register.simple_tag
def empty_hint(opts: Any) -> str:
    """What to do next on an empty list of this model ("" if the console has no advice)."""
    return str(sections.EMPTY.get(f"{opts.app_label}.{opts.model_name}", ""))
