"""Hand tasks to django-q2's broker; what it refuses is sent again as soon as it answers.

Every task Dihya queues carries the id of a committed row that is the promise (a queued job, a
queued batch line, a pending delivery). When the broker refuses the task — Redis restarting,
unreachable — the row stays, and this process remembers the task: one daemon thread tries the
broker every DIHYA_BROKER_RETRY seconds and sends what it remembers, in order, as soon as the
broker takes it again. Jobs accepted during a Redis outage therefore run seconds after Redis is
back, not after the reaper's DIHYA_REAP_QUEUED_AFTER. While tasks wait here, new ones join
them without a try of their own: an outage costs no call a round trip to a dead broker.

What a process cannot remember — it stopped, or more than BACKLOG tasks wait — its rows still
say: the reaper (`dihya.generation.reaper`) and the batch sweep hand them over again later.

Sending a task twice never runs anything twice: each task's worker first claims its row by a
conditional UPDATE (a job or a line queued → running, a delivery by its attempt count), so a
task that did reach the broker and is sent again (here, then by the reaper) runs once.
This module never looks at rows: it knows task names and ids, nothing of what they mean.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass

from django.conf import settings
from django.db import connections

log = logging.getLogger(__name__)

BACKLOG = 10_000  # tasks remembered per process; beyond, the reaper and the sweep find them


@dataclass(frozen=True)
class Task:
    func: str  # a dihya.tasks entry point
    arg: str  # the id of its row
    name: str
    group: str


_waiting: dict[str, Task] = {}  # by task name, in the order they were refused
_lock = threading.Lock()
_resender: threading.Thread | None = None


def send(func: str, arg: str, *, name: str, group: str) -> bool:
    """Hand one task to the broker now. False: it refused, and the task waits here."""
    task = Task(func, arg, name, group)
    with _lock:
        if _waiting:  # the broker refused a moment ago: queue behind, keep the order
            _remember(task)
            return False
    try:
        _push(task)
    except Exception as exc:  # the broker's outage, e.g. redis.exceptions.ConnectionError
        log.warning("%s: broker unavailable (%s); sent again as soon as it answers",
                    name, exc)
        with _lock:
            _remember(task)
        return False
    return True


def waiting() -> int:
    """How many refused tasks this process holds, to send again."""
    return len(_waiting)


def _push(task: Task) -> None:
    from django_q.tasks import async_task  # django-q2 reads its settings on import

    async_task(task.func, task.arg, task_name=task.name, group=task.group)


def _remember(task: Task) -> None:
    """Under _lock: keep the task for the re-sender, and make sure it runs."""
    global _resender
    if len(_waiting) >= BACKLOG:
        log.error("%s: %d tasks already wait for the broker; this one is left to the reaper",
                  task.name, len(_waiting))
        return
    _waiting[task.name] = task
    if _resender is None:
        _resender = threading.Thread(target=_resend, name="dihya-broker-resend", daemon=True)
        _resender.start()


def _resend() -> None:
    """Until nothing waits: try the broker, send what waits, oldest first."""
    global _resender
    try:
        while True:
            time.sleep(settings.DIHYA_BROKER_RETRY)
            with _lock:
                tasks = list(_waiting.values())
                if not tasks:
                    _resender = None
                    return
            sent = 0
            for task in tasks:
                try:
                    _push(task)
                except Exception:  # still down: the next try in DIHYA_BROKER_RETRY seconds
                    break
                with _lock:
                    _waiting.pop(task.name, None)
                sent += 1
            if sent:
                log.warning("broker answers again: %d task(s) sent again, %d still waiting",
                            sent, len(_waiting))
    finally:
        connections.close_all()  # the ORM broker's connection, of this thread
        with _lock:
            if _resender is threading.current_thread():  # it ended by an error: let it restart
                _resender = None


def _forget_in_child() -> None:
    """A forked process (a cluster's worker) starts with nothing to send and no thread."""
    global _resender, _lock
    _waiting.clear()
    _resender = None
    _lock = threading.Lock()


os.register_at_fork(after_in_child=_forget_in_child)
