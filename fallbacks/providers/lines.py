"""The lines of a streamed answer (server-sent events, NDJSON), split as the bytes arrive.

httpx's `aiter_lines` stacks three generators on the body (bytes, then text, then lines) and
decodes every byte before looking for a line's end; at thousands of chunks a second that was
a tenth of a stream's cost in the provider. Here the bytes are split where they come in and
only whole lines are decoded: a line end is a byte no UTF-8 sequence contains, so a
character cut between two reads is whole again by then. Lines end with LF, CRLF or CR, as
the SSE specification and `aiter_lines` have it; invalid UTF-8 becomes U+FFFD, as httpx's
decoder made it.
"""

from __future__ import annotations


class Lines:
    """`feed(bytes)` → the lines it completes; `end()` → the last one, if unterminated."""

    __slots__ = ("cr", "rest")

    def __init__(self) -> None:
        self.rest = b""   # the start of a line whose end has not come yet
        self.cr = False   # the last read ended with CR: a LF first in the next completes it

    def feed(self, data: bytes) -> list[str]:
        if self.cr and data.startswith(b"\n"):
            data = data[1:]
        self.cr = data.endswith(b"\r")
        if self.rest:
            data = self.rest + data
        if b"\r" in data:
            data = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        parts = data.split(b"\n")
        self.rest = parts.pop()
        return [p.decode("utf-8", "replace") for p in parts]

    def end(self) -> list[str]:
        rest, self.rest = self.rest, b""
        return [rest.decode("utf-8", "replace")] if rest else []
