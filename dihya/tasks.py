"""Every django-q2 entry point of Dihya. Thin on purpose: each is one call into a verb.

Tasks carry ids, never prompts (django-q2 pickles arguments with SECRET_KEY and keeps them in
its tables); the state they act on lives in our own rows. Schedules that call these are in
`dihya.gateway.schedules`.
"""

from __future__ import annotations

from dihya.api import batch_lines
from dihya.batches import scheduler
from dihya.gateway import deliveries
from dihya.generation import jobs, reaper
from dihya.privacy import erasure
from fallbacks import health_checks


def run_generation(generation_id: str) -> str:
    return jobs.run(generation_id)


def deliver(delivery_id: str) -> str:
    return deliveries.deliver(delivery_id)


def reap() -> dict[str, int]:
    return reaper.reap()


def check_engines() -> dict[str, str]:
    return health_checks.check_all()


def purge_expired() -> dict[str, int]:
    return erasure.purge_expired(by="schedule")


def run_batch_line(line_id: str) -> str:
    return batch_lines.run(line_id)


def sweep_batches() -> dict[str, int]:
    return scheduler.sweep()


def top_up_batches() -> int:
    return scheduler.top_up()
