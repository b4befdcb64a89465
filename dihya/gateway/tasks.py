"""django-q2 entry points. Thin on purpose: the work is in `dihya.generation.jobs`."""

from __future__ import annotations

from dihya.generation import jobs


def run_generation(generation_id: str) -> str:
    return jobs.run(generation_id)
