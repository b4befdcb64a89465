"""`rebuild_quota_tally`: drop the quota tally's keys so that each is seeded again from the
database (its counters plus the open reservations) on its next use.

For after the tally was known to drift: Redis was unreachable when calls settled (the log
says so), or counters were edited by hand. A Redis restart needs nothing: its keys are gone
and are seeded on use. Calls that settle while it runs may count once more or once less for
an instant, in the windows they touch; run it when the gateway is quiet.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from quotas import tally


class Command(BaseCommand):
    help = "Drop the quota tally kept in Redis; it is seeded again from the database on use."

    def handle(self, *args: Any, **options: Any) -> None:
        if not tally.enabled():
            raise CommandError("the quota tally is off (DIHYA_QUOTA_TALLY, REDIS_URL): the "
                               "database's counters are the only ones")
        self.stdout.write(f"dropped {tally.forget_all()} quota tally keys; each is seeded "
                          "again from the database on its next use")
