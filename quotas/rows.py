"""The quota tables' fixed statements, in raw SQL: the ORM can return nothing from an UPDATE
or an upsert, and compiling these queries cost more CPU than running them
(docs/benchmarks.md). PostgreSQL and SQLite >= 3.35 both have RETURNING and ON CONFLICT.

Only `quotas.ledger` calls these: it decides what moves, these move it in one statement each.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from uuid import UUID

from django.db import connection
from django.utils import timezone

from quotas.models import Counter, Reservation

#: A counter's row: (subject, metric, period, window start in ISO format).
Row = tuple[str, str, str, str]


def bump(subject: str, metric: str, period: str, start: dt.datetime, n: int,
          ceiling: int | None = None) -> int | None:
    """`used += n` on one counter, unless that would pass `ceiling`: one statement that returns
    the new value (None: no such counter, or the ceiling held)."""
    ops = connection.ops
    table, used, subject_, metric_, period_, start_ = (ops.quote_name(name) for name in (
        Counter._meta.db_table, "used", "subject", "metric", "period", "window_start"))
    # The names are our own, quoted; every value is a parameter.
    sql = (f"UPDATE {table} SET {used} = {used} + %s WHERE {subject_} = %s "  # noqa: S608
           f"AND {metric_} = %s AND {period_} = %s AND {start_} = %s")
    params: list[Any] = [n, subject, metric, period, ops.adapt_datetimefield_value(start)]
    if ceiling is not None:
        sql += f" AND {used} <= %s"
        params.append(ceiling - n)
    with connection.cursor() as cursor:
        cursor.execute(f"{sql} RETURNING {used}", params)
        row = cursor.fetchone()
    return None if row is None else int(row[0])


def add(deltas: dict[Row, int]) -> dict[Row, int]:
    """`used += n` on many counters, each created if its window has none yet (a tallied call
    settles into a window the database may not have seen): one upsert for all, rows in sorted
    order (the lock order of `reserve`), returning the new values."""
    if not deltas:
        return {}
    ops = connection.ops
    table, used, subject_, metric_, period_, start_ = (ops.quote_name(name) for name in (
        Counter._meta.db_table, "used", "subject", "metric", "period", "window_start"))
    keys = sorted(deltas)
    params: list[Any] = []
    for key in keys:
        subject, metric, period, window_start = key
        params += [subject, metric, period,
                   ops.adapt_datetimefield_value(dt.datetime.fromisoformat(window_start)),
                   deltas[key]]
    rows = ", ".join(["(%s, %s, %s, %s, %s)"] * len(keys))
    # The names are our own, quoted; every value is a parameter.
    sql = (f"INSERT INTO {table} ({subject_}, {metric_}, {period_}, {start_}, {used}) "  # noqa: S608
           f"VALUES {rows} ON CONFLICT ({subject_}, {metric_}, {period_}, {start_}) "
           f"DO UPDATE SET {used} = {table}.{used} + EXCLUDED.{used} "
           f"RETURNING {subject_}, {metric_}, {period_}, {start_}, {used}")
    start_field = Counter._meta.get_field("window_start")
    converters = ops.get_db_converters(start_field.get_col(Counter._meta.db_table))
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        returned = cursor.fetchall()
    out = {}
    for subject, metric, period, start, value in returned:
        for convert in converters:
            start = convert(start, start_field, connection)
        out[(subject, metric, period, start.isoformat())] = int(value)
    return out


def close(generation_ids: list[UUID], state: str,
          was: str = Reservation.State.RESERVED) -> dict[UUID, list]:
    """Move these reservations from `was` to `state` in one statement; what each held."""
    if not generation_ids:
        return {}
    ops = connection.ops
    table, state_, gid_, held_ = (ops.quote_name(name) for name in (
        Reservation._meta.db_table, "state", "generation_id", "held"))
    gid_field = Reservation._meta.get_field("generation_id")
    held_field = Reservation._meta.get_field("held")
    marks = ", ".join(["%s"] * len(generation_ids))
    # The names are our own, quoted; every value is a parameter.
    sql = (f"UPDATE {table} SET {state_} = %s WHERE {state_} = %s "  # noqa: S608
           f"AND {gid_} IN ({marks}) RETURNING {gid_}, {held_}")
    params = [state, was,
              *(gid_field.get_db_prep_value(g, connection) for g in generation_ids)]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    return {gid_field.to_python(gid): held_field.from_db_value(held, None, connection)  # type: ignore[arg-type]
            for gid, held in rows}


def reserve(generation_id: UUID, held: list[dict[str, object]]) -> bool:
    """Record a reservation, unless this generation has one: False then. One statement and no
    savepoint (an IntegrityError would need one to be caught inside a transaction)."""
    ops = connection.ops
    meta = Reservation._meta
    table, gid_, state_, held_, created_ = (ops.quote_name(name) for name in (
        meta.db_table, "generation_id", "state", "held", "created"))
    # The names are our own, quoted; every value is a parameter.
    sql = (f"INSERT INTO {table} ({gid_}, {state_}, {held_}, {created_}) "  # noqa: S608
           f"VALUES (%s, %s, %s, %s) ON CONFLICT ({gid_}) DO NOTHING RETURNING {gid_}")
    params = [meta.get_field("generation_id").get_db_prep_value(generation_id, connection),
              Reservation.State.RESERVED,
              meta.get_field("held").get_db_prep_value(held, connection),
              ops.adapt_datetimefield_value(timezone.now())]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone() is not None
