"""Engine output made storable: the text of a completion or a delta, cleaned as it is read.

What an engine answers is stored (the generation, the audit event) and relayed. PostgreSQL
text columns cannot hold NUL, and a lone surrogate (JSON can spell "\\ud800") has no UTF-8 form
at all, so either made recording fail after the engine had answered. Clients are refused the
same characters (`dihya.generation.validation`); an engine cannot be refused, so its output is
cleaned: C0 controls but tab, newline and carriage return, DEL and C1 controls are dropped,
and a lone surrogate becomes U+FFFD. A surrogate pair split across two stream chunks arrives
as two lone halves and becomes two U+FFFD.

It must change nothing else, and cost one search of a precompiled expression when there is
nothing to clean: it runs on every streamed delta.
"""

from __future__ import annotations

import re

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")
_EITHER = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")


def clean_output(text: str) -> str:
    """`text` without control characters (but tab, newline, CR) and lone surrogates (U+FFFD)."""
    if _EITHER.search(text) is None:
        return text
    return _SURROGATE.sub("\ufffd", _CONTROL.sub("", text))
