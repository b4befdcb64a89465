"""Borrowed library internals, fenced by the library version they were written against.

A few hot paths lean on a library's private parts (a method it may rename, an attribute it
may drop) because the public way costs too much CPU. Each such borrowing declares one `Fence`
next to the code that borrows: which library, which versions the code was read against and
tested on, what it borrows, and when it can go. The code asks `fence.holds()` before taking
its own path; on any other version it takes the library's stock path, which is slower but
right, and says so once in the log. `dihya.checks` turns every fence that does not hold into
a system-check warning, so an upgrade is noticed at `manage.py check` rather than in a
profile: an upgrade costs CPU, never correctness. A pin in pyproject.toml is then not needed
for safety (pins block security releases).

Must never import Django or anything of the apps.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from functools import cache
from importlib.metadata import PackageNotFoundError, version

from packaging.specifiers import SpecifierSet

logger = logging.getLogger(__name__)


@cache
def _installed(library: str) -> str | None:
    try:
        return version(library)
    except PackageNotFoundError:
        return None


def installed(library: str) -> str | None:
    """The installed version of `library` (a seam: tests pretend another one here)."""
    return _installed(library)


@dataclass(eq=False)
class Fence:
    """One borrowed internal: `written_for` is a version specifier (PEP 440), e.g. "==1.0.9"."""

    library: str
    written_for: str
    borrows: str
    where: str
    until: str
    _verdict: tuple[str | None, bool] | None = field(default=None, repr=False)

    def holds(self) -> bool:
        """Whether the installed library is one this code was written for; logs once if not.

        Cheap enough for a hot path: the verdict is kept for the version it was given for."""
        now = installed(self.library)
        if self._verdict is not None and self._verdict[0] == now:
            return self._verdict[1]
        ok = now is not None and SpecifierSet(self.written_for).contains(now, prereleases=True)
        self._verdict = (now, ok)
        if not ok:
            logger.warning("%s", self.problem())
        return ok

    def problem(self) -> str:
        return (f"{self.library} {installed(self.library) or '(not installed)'} is not the "
                f"version {self.where} was written for ({self.written_for}): it borrows "
                f"{self.borrows}, so it uses the library's stock path instead (more CPU, same "
                "behaviour)")


_fences: list[Fence] = []


def fence(library: str, written_for: str, *, borrows: str, where: str, until: str) -> Fence:
    """Declare a borrowing (at import of the module that borrows)."""
    made = Fence(library, written_for, borrows, where, until)
    _fences.append(made)
    return made


def declared() -> tuple[Fence, ...]:
    return tuple(_fences)
