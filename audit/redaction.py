"""Redaction of personal data from text before it goes into the audit log.

Regular expressions find candidates; checksums and parsers decide (IBAN mod-97, Luhn for
card numbers, `ipaddress` for IPs), so that order numbers and version strings survive while
real identifiers do not. It errs on the side of redacting: a phone-like run of digits is
redacted even when it is something else. Extra patterns come from DIHYA_REDACT_PATTERNS
(a list of regular expressions). Behind `Redactor` so that a heavier engine (Presidio) can
replace it. This module must never log the text it is given.

Every pattern runs in time linear in the text, whatever the text: the text comes from clients
and engines, and a pattern that backtracks over a long run from each of its positions lets
one request hold the recording up for minutes. Redaction runs inside the recording
transaction, so a field is also redacted up to MAX_CHARS only, and the rest dropped.

What it does not catch, so that nobody counts on it:
- names, postal addresses, birth dates, national ID, passport or social security numbers:
  there is no pattern for them (add one to DIHYA_REDACT_PATTERNS, or use a real NER engine);
- identifiers written out in words or obfuscated ("alice at example dot org"), and e-mail
  addresses with a quoted local part or one of more than 64 characters. A local part starts
  after white space or punctuation: in unspaced prose (Chinese, Japanese) the words glued to
  an address are redacted with it, and an address glued to more than 64 of them is missed;
- IBANs and card numbers with a wrong check digit (a typo saves them); IBANs spaced after the
  country code in lower case, or of a country or length not in the registry; card digits in
  groups separated by more than one character;
- (not a leak, a loss) an IPv6 address followed by a port without brackets goes with the port;
- anything past MAX_CHARS, which is not kept either. DIHYA_REDACT_PATTERNS run as written: an
  operator's pattern that backtracks is bounded by MAX_CHARS only.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterable
from functools import lru_cache
from typing import Any, Protocol

from django.conf import settings

# Linear time on any input: every repetition is bounded, and a pattern whose start is not
# pinned by its first characters may only start where the previous character cannot extend it
# (a lookbehind), so no run of characters is rescanned from each of its positions.

# E-mail addresses in any script (RFC 6531). `re` has no class for marks, which IDN labels
# need (Devanagari vowel signs are not \w), so the classes say what may NOT be in an address:
# white space, the ASCII punctuation that the part forbids, and _STOPS, the other punctuation
# that surrounds an address in prose (quotes, guillemets, CJK, fullwidth, Arabic and Devanagari
# stops). A local part is ASCII atext or any other character, at most 64 of them (RFC 5321); a
# label has letters, digits, marks and hyphens; labels are separated by "." or a CJK full stop.
_STOPS = (r"\x00-\x20\x7f-\xa1\xab\xbb\xbf\u060c\u061b\u061f\u06d4\u0964\u0965"
          r"\u2000-\u200b\u200e-\u206f\u3000-\u3004\u3008-\u3020\u3030\ufe30-\ufe4f"
          r"\uff01-\uff0f\uff1a-\uff20\uff3b-\uff40\uff5b-\uff65")
_LOCAL = rf"[^\s\"(),:;<>@\[\\\]{_STOPS}]"
_LABEL = rf"[^\s!-,./:-@\[-`{{-~{_STOPS}]"
_DOT = r"[.\u3002\uff0e\uff61]"
_TLD = rf"(?:[Xx][Nn]--[A-Za-z0-9-]{{1,59}}|[^\W\d_][^\s!-/:-@\[-`{{-~\d{_STOPS}]{{1,62}})"
EMAIL = re.compile(rf"(?<!{_LOCAL}){_LOCAL}{{1,64}}@(?:{_LABEL}{{1,63}}{_DOT}){{1,126}}{_TLD}")
# Glued to its check digits, the country code may be in any case (fr76…); separated from them
# (FR 76 3000…, as French RIBs print it), only in capitals, with capitals after: a small word
# followed by numbers is too common in prose to be checked against mod-97 every time. ASCII
# only: case-insensitive [A-Z] would also match the Kelvin sign, which int(c, 36) refuses.
IBAN = re.compile(r"\b(?:[A-Za-z]{2}[0-9]{2}(?:[ -]?[A-Za-z0-9]){11,30}"
                  r"|(?P<spaced>[A-Z]{2})[ -][0-9]{2}(?:[ -]?[A-Z0-9]){11,30})\b")
# Each country's IBAN length, from SWIFT's IBAN registry (iban-registry.txt). Checked only when
# the country code stands apart: "AT 4111 1111 1111 1111" is two capitals and a card number.
IBAN_LENGTHS = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22,
    "BI": 27, "BR": 29, "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DJ": 27,
    "DK": 18, "DO": 28, "EE": 20, "EG": 29, "ES": 24, "FI": 18, "FK": 18, "FO": 18, "FR": 27,
    "GB": 22, "GE": 22, "GI": 23, "GL": 18, "GR": 27, "GT": 28, "HN": 28, "HR": 21, "HU": 28,
    "IE": 22, "IL": 23, "IQ": 23, "IS": 26, "IT": 27, "JO": 30, "KW": 30, "KZ": 20, "LB": 28,
    "LC": 32, "LI": 21, "LT": 20, "LU": 20, "LV": 21, "LY": 25, "MC": 27, "MD": 24, "ME": 22,
    "MK": 19, "MN": 20, "MR": 27, "MT": 31, "MU": 30, "NI": 28, "NL": 18, "NO": 15, "OM": 23,
    "PK": 24, "PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22, "RU": 33, "SA": 24,
    "SC": 31, "SD": 18, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "SO": 23, "ST": 25, "SV": 28,
    "TL": 23, "TN": 24, "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20, "YE": 30,
}
CARD = re.compile(r"(?<![\w.])\d(?:[ -]?\d){12,18}(?![\w])")
# An embedded IPv4 address (::ffff:192.0.2.1) is tried before a last hex group, and may not
# stop before a dot and a digit, or the match would end at its first byte ("::ffff:192"). After
# it a colon can only start a port.
IPV6 = re.compile(r"(?<![\w:.])(?:[0-9A-Fa-f]{0,4}:){2,7}(?:\d{1,3}(?:\.\d{1,3}){3}"
                  r"(?:%\w{1,32})?(?!\w|\.\d)|(?:[0-9A-Fa-f]{1,4})?(?:%\w{1,32})?(?![\w:]|\.\d))")
IPV4 = re.compile(r"(?<![\w.])\d{1,3}(?:\.\d{1,3}){3}(?![\w]|\.\d)")
PHONE = re.compile(r"(?<![\w+])(?:\+|00)?\(?\d[\d ().-]{6,30}\d(?!\w)")
DATE = re.compile(r"\d{4}-\d{2}-\d{2}|\d{1,2}[./-]\d{1,2}[./-]\d{2,4}")

#: Characters of one text that are redacted; what comes after is dropped, replaced by
#: "[truncated N chars]". Redaction runs inside the recording transaction (the audit gate
#: records its event while the generation is written), so its cost is time the database's
#: write lock is held: it must be bounded per field, not just linear.
MAX_CHARS = 20_000
# The longest identifier looked for: an e-mail address, 64 + 1 + 255 characters. A cut is
# searched for that far on either side of MAX_CHARS.
_REACH = 320


class Redactor(Protocol):
    def __call__(self, text: str) -> str: ...


_DOUBLE = (0, 2, 4, 6, 8, 1, 3, 5, 7, 9)  # a Luhn digit doubled, its digits summed
_DIGITS = re.compile(r"\d+")


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def iban_ok(candidate: str) -> bool:
    s = re.sub(r"[ -]", "", candidate).upper()
    if not 15 <= len(s) <= 34:
        return False
    moved = s[4:] + s[:4]
    return int("".join(str(int(c, 36)) for c in moved)) % 97 == 1


def _card(m: re.Match[str]) -> str:
    """The longest Luhn-valid run of whole digit groups (13-19 digits) in the candidate, so that
    a card number glued to another number by a space is still found, but no digits are split.

    CARD matches at most 19 digits, hence at most 19 groups. Only runs of 13 to 19 digits are
    tried, each in constant time from prefix sums of the Luhn terms of either parity."""
    text = m.group()
    edges: list[tuple[int, int, int]] = []  # per group: start, end, digits before it
    count = 0
    sums = [[0], [0]]  # sums[p][k]: Luhn terms of the first k digits, if digit 0 has parity p
    for g in _DIGITS.finditer(text):
        edges.append((g.start(), g.end(), count))
        for ch in g.group():
            d = int(ch)
            even, odd = (d, _DOUBLE[d]) if count % 2 == 0 else (_DOUBLE[d], d)
            sums[0].append(sums[0][-1] + even)
            sums[1].append(sums[1][-1] + odd)
            count += 1
    best: tuple[int, int] | None = None
    top = -1  # the last group that starts at least 13 digits before `end`
    for last in range(len(edges)):
        b, end = edges[last][1], (edges[last + 1][2] if last + 1 < len(edges) else count)
        while top < last and end - edges[top + 1][2] >= 13:
            top += 1
        parity = (end - 1) % 2  # the last digit of a run is not doubled
        for first in range(top, -1, -1):
            a, _, begin = edges[first]
            if end - begin > 19:
                break
            if (sums[parity][end] - sums[parity][begin]) % 10 == 0 and (
                    best is None or b - a > best[1] - best[0]):
                best = (a, b)
    if best is None:
        return text
    return text[:best[0]] + "[card]" + text[best[1]:]


def _iban(m: re.Match[str]) -> str:
    """The longest valid IBAN the candidate starts with (a word may follow it). Mod-97 of every
    prefix in one pass: the country code and check digits go to the end, so each prefix's
    number is the BBAN's so far, shifted, plus theirs. A country code standing apart must be
    the registry's, with its length, and not be followed by a card number (CARD decides)."""
    text = m.group()
    chars = [(i, int(c, 36)) for i, c in enumerate(text) if c not in " -"]
    head = "".join(str(v) for _, v in chars[:4])
    shift, tail = pow(10, len(head), 97), int(head) % 97
    lengths = range(15, 35)
    if m.group("spaced"):
        length = IBAN_LENGTHS.get(m.group("spaced"), 0)
        lengths = range(length, length + 1)
    bban, end = 0, 0
    for n, (i, v) in enumerate(chars[4:], start=5):
        bban = (bban * (100 if v > 9 else 10) + v) % 97
        if n in lengths and (bban * shift + tail) % 97 == 1:
            end = i + 1
    if end and m.group("spaced"):
        number = "".join(c for c in text[2:end] if c not in " -")
        if number.isdigit() and 13 <= len(number) <= 19 and luhn_ok(number):
            return text
    return "[iban]" + text[end:] if end else text


def _ip(m: re.Match[str]) -> str:
    try:
        ipaddress.ip_address(m.group().split("%")[0])
    except ValueError:
        return m.group()
    return "[ip]"


def _phone(m: re.Match[str]) -> str:
    text = m.group()
    digits = re.sub(r"\D", "", text)
    if not 7 <= len(digits) <= 15 or DATE.fullmatch(text.strip("()")):
        return text
    return "[phone]"


STEPS: tuple[tuple[re.Pattern[str], Callable[[re.Match[str]], str]], ...] = (
    (EMAIL, lambda m: "[email]"),
    (IBAN, _iban),
    (CARD, _card),
    (IPV6, _ip),
    (IPV4, _ip),
    (PHONE, _phone),
)


@lru_cache(maxsize=8)
def _extra(patterns: tuple[str, ...]) -> tuple[re.Pattern[str], ...]:
    return tuple(re.compile(p) for p in patterns)


def redact(text: str, *, max_chars: int = MAX_CHARS) -> str:
    """The text with every recognised identifier replaced by a bracketed label, and what comes
    after its first `max_chars` characters by "[truncated N chars]"."""
    if not text:
        return text
    extra = _extra(tuple(settings.DIHYA_REDACT_PATTERNS))
    rest = ""
    if len(text) > max_chars:
        cut = _cut(text, max_chars, (*(pattern for pattern, _ in STEPS), *extra))
        text, rest = text[:cut], f"[truncated {len(text) - cut} chars]"
    for pattern, replace in STEPS:
        text = pattern.sub(replace, text)
    for pattern in extra:
        text = pattern.sub("[redacted]", text)
    return text + rest


def _cut(text: str, limit: int, patterns: Iterable[re.Pattern[str]]) -> int:
    """Where to cut `text`: at `limit`, or before every candidate identifier that spans it (and
    those overlapping that one), since neither half of an identifier cut in two would be
    recognised, and the first half would be kept."""
    origin = max(0, limit - _REACH)
    window = text[origin:limit + _REACH]
    cut = limit - origin
    start = end = 0  # the run of overlapping candidates looked at
    for a, b in sorted(m.span() for pattern in patterns for m in pattern.finditer(window)):
        if a >= end:
            if start < cut < end:
                break
            start, end = a, b
        else:
            end = max(end, b)
    return origin + (start if start < cut < end else cut)


def redact_data(value: Any) -> Any:
    """Redact every string inside a JSON-like value (keys are ours, values may be theirs)."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {k: redact_data(v) for k, v in value.items()}
    if isinstance(value, Iterable) and not isinstance(value, bytes):
        return [redact_data(v) for v in value]
    return value
