"""`drop_params` picked from a list in the console, instead of typed as JSON.

A client's or a route's `drop_params` names request fields Dihya drops (and reports) rather than
refusing with `unsupported_parameter`. The fields below are those Dihya may refuse: the OpenAI
fields no engine of a route may support (`dihya.generation.capabilities.PARAM_OF`: tools,
response_format, logprobs, messages for images and audio) and those `ChatBody` accepts but a
route may not honour. Any other name (a field an SDK sends that Dihya does not know) goes in the
"other" box. The value stays the JSON list of names the model field holds, sorted, as
`manage.py config apply` writes it: no migration, and `config export` shows the same list.
"""

from __future__ import annotations

import re
from typing import Any

from django import forms
from django.core.exceptions import ValidationError

DROPPABLE = (
    ("logprobs", "logprobs"), ("top_logprobs", "top_logprobs"), ("logit_bias", "logit_bias"),
    ("n", "n (more than one choice)"), ("seed", "seed"),
    ("presence_penalty", "presence_penalty"), ("frequency_penalty", "frequency_penalty"),
    ("reasoning_effort", "reasoning_effort"), ("parallel_tool_calls", "parallel_tool_calls"),
    ("response_format", "response_format (JSON schema)"), ("tools", "tools"),
    ("functions", "functions (legacy tools)"), ("modalities", "modalities"),
    ("messages", "messages: images and audio parts"),
)
KNOWN = frozenset(name for name, _ in DROPPABLE)
FIELD_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]{0,63}$")


def split(value: Any) -> list[Any]:
    """[known names ticked, "other, names"]: the stored list as the two inputs show it."""
    names = [str(v) for v in value] if isinstance(value, (list, tuple)) else []
    return [[n for n in names if n in KNOWN], ", ".join(n for n in names if n not in KNOWN)]


class DropParamsWidget(forms.MultiWidget):
    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        other = forms.TextInput(attrs={"placeholder": "other fields, comma-separated",
                                       "size": 50, "aria-label": "other fields to drop"})
        super().__init__([forms.CheckboxSelectMultiple(choices=DROPPABLE), other], attrs)

    def decompress(self, value: Any) -> list[Any]:
        return split(value)


class DropParamsField(forms.MultiValueField):
    """Checkboxes of DROPPABLE and a free text box; cleans to a sorted list of names."""

    widget = DropParamsWidget

    def __init__(self, **kwargs: Any) -> None:
        for unused in ("encoder", "decoder", "max_length"):
            kwargs.pop(unused, None)
        kwargs["required"] = False
        fields = (forms.MultipleChoiceField(choices=DROPPABLE, required=False),
                  forms.CharField(required=False, max_length=1000))
        super().__init__(fields, require_all_fields=False, **kwargs)

    def prepare_value(self, value: Any) -> Any:
        """The stored list (initial) is split; what the form sent back is already split."""
        decompressed = (isinstance(value, list) and len(value) == 2
                        and isinstance(value[0], list) and not isinstance(value[1], list))
        return value if decompressed else split(value)

    def compress(self, data_list: list[Any]) -> list[str]:
        if not data_list:
            return []
        ticked, other = data_list[0] or [], data_list[1] or ""
        typed = [n for n in re.split(r"[\s,]+", other) if n]
        wrong = [n for n in typed if not FIELD_NAME.match(n)]
        if wrong:
            raise ValidationError(f"Not a field name: {', '.join(wrong)} (letters, digits, _ "
                                  "and . only; separate names with commas).", code="invalid")
        return sorted(set(ticked) | set(typed))

    def has_changed(self, initial: Any, data: Any) -> bool:
        try:
            now = self.compress(data if isinstance(data, list) else [])
        except ValidationError:
            return True
        return sorted(initial or []) != now


class DropParamsAdmin:
    """Mixed into a ModelAdmin whose model has a `drop_params` JSON list."""

    def formfield_for_dbfield(self, db_field: Any, request: Any, **kwargs: Any) -> Any:
        if db_field.name == "drop_params":
            return DropParamsField(label=db_field.verbose_name.capitalize(),
                                   help_text=db_field.help_text)
        return super().formfield_for_dbfield(db_field, request, **kwargs)  # type: ignore[misc]
