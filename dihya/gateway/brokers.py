"""django-q2's brokers as the cluster's pusher uses them, patient through an outage.

django-q2's pusher takes tasks from the broker for the workers. When the broker fails (Redis
restarting; the database, for the ORM broker), stock django-q2 logs the traceback, sleeps ten
seconds and lets the pusher die for the sentinel to start another: tasks sent again the moment
the broker is back (`dihya.gateway.broker`) still waited up to ten seconds for a pusher. Here
a failing `dequeue` says so once, waits DIHYA_BROKER_RETRY seconds and finds nothing, so the
pusher asks again at that pace and takes the first task the broker has once it answers; the
pusher's own loop still checks the cluster's stop between two asks.

Chosen through django-q2's public `broker_class` setting (Q_CLUSTER in dihya/settings.py);
everything else is django-q2's broker, unchanged.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import redis
from django.conf import settings
from django.db import DatabaseError
from django_q.brokers import orm, redis_broker

log = logging.getLogger(__name__)


class Patient:
    """A broker whose `dequeue` waits out the outages its `outage` errors say."""

    outage: tuple[type[Exception], ...] = ()
    failing = False

    def dequeue(self) -> Any:
        try:
            tasks = super().dequeue()  # type: ignore[misc]
        except self.outage as exc:
            if not self.failing:
                log.warning("the broker fails (%s); asking again every %g s", exc,
                            settings.DIHYA_BROKER_RETRY)
            self.failing = True
            time.sleep(settings.DIHYA_BROKER_RETRY)
            return None
        if self.failing:
            log.warning("the broker answers again")
            self.failing = False
        return tasks


class Redis(Patient, redis_broker.Redis):
    outage = (redis.RedisError,)


class ORM(Patient, orm.ORM):
    outage = (DatabaseError,)
