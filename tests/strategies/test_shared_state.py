"""What least_busy and lowest_latency read is shared across processes, and cheap to read."""

from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync

from fallbacks import latency, slots
from fallbacks.models import EngineLatency, EngineSlot
from fallbacks.spec import EngineSpec
from fallbacks.strategies.base import FIRST_TOKEN, PER_TOKEN


@pytest.fixture
def fresh_latency(settings, django_capture_on_commit_callbacks, monkeypatch):
    """Alpha 0.5, nothing remembered, and writes done at once (they wait for the commit of
    the recording transaction, which a test's transaction never has)."""
    settings.DIHYA_LATENCY_ALPHA = 0.5
    # These tests are about the database store: with REDIS_URL set (CI's scale-out run) the
    # board would use Redis, which tests below cover on their own.
    monkeypatch.setattr(latency, "store", latency.DatabaseStore)
    latency.board().forget()
    write = latency.DatabaseStore.write

    def committed(self, pending):
        with django_capture_on_commit_callbacks(execute=True):
            write(self, pending)

    monkeypatch.setattr(latency.DatabaseStore, "write", committed)
    yield
    latency.board().forget()


def test_a_write_waits_for_the_commit_of_the_recording_transaction(db, make_engine,
                                                                   monkeypatch):
    monkeypatch.setattr(latency, "store", latency.DatabaseStore)
    e = make_engine("http://127.0.0.1:9/v1")
    board = latency.Board()
    board.observe(e.pk, PER_TOKEN, 10.0)

    board.flush(force=True)

    assert not EngineLatency.objects.exists()  # the test's transaction never commits


def test_samples_of_a_deleted_engine_are_dropped(db, make_engine, fresh_latency):
    e = make_engine("http://127.0.0.1:9/v1")
    gone = make_engine("http://127.0.0.1:9/v1")
    board = latency.Board()
    board.observe(e.pk, PER_TOKEN, 10.0)
    board.observe(gone.pk, PER_TOKEN, 10.0)
    gone.delete()

    board.flush(force=True)

    assert list(EngineLatency.objects.values_list("engine_id", flat=True)) == [e.pk]


def spec(engine, **fields) -> EngineSpec:
    return EngineSpec(id=engine.pk, name=engine.name, provider="openai",
                      base_url=engine.base_url, model="m", **fields)


def test_samples_reach_another_process_after_a_flush(db, make_engine, fresh_latency):
    e = make_engine("http://127.0.0.1:9/v1")
    mine = latency.board()
    for ms in (100.0, 200.0, 300.0):
        mine.observe(e.pk, FIRST_TOKEN, ms)
    mine.observe(e.pk, PER_TOKEN, 8.0)

    mine.flush(force=True)
    other = latency.Board()
    other.refresh(force=True)

    row = EngineLatency.objects.get(engine=e)
    # EWMA with alpha 0.5: 100 → 150 → 225, the same in memory and in the row.
    assert (row.first_token_ms, row.first_token_samples) == (225.0, 3)
    assert mine.average(e.pk, FIRST_TOKEN).value == 225.0
    assert other.average(e.pk, FIRST_TOKEN).value == 225.0
    assert other.average(e.pk, PER_TOKEN).value == 8.0


def test_two_processes_fold_their_samples_into_one_average(db, make_engine, fresh_latency):
    e = make_engine("http://127.0.0.1:9/v1")
    one, two = latency.Board(), latency.Board()
    one.observe(e.pk, PER_TOKEN, 10.0)
    one.flush(force=True)
    two.observe(e.pk, PER_TOKEN, 30.0)
    two.flush(force=True)

    row = EngineLatency.objects.get(engine=e)

    assert (row.per_token_ms, row.per_token_samples) == (20.0, 2)


def test_writes_are_batched_by_the_refresh_interval(db, make_engine, fresh_latency, settings,
                                                    django_assert_num_queries):
    settings.DIHYA_LATENCY_REFRESH = 60.0
    e = make_engine("http://127.0.0.1:9/v1")
    board = latency.board()
    board.observe(e.pk, PER_TOKEN, 10.0)
    board.flush()  # the first write goes out
    board.refresh()  # and is read back, with every process's

    with django_assert_num_queries(0):
        for _ in range(20):
            board.observe(e.pk, PER_TOKEN, 10.0)
            board.flush()
            board.refresh()
    assert EngineLatency.objects.get(engine=e).per_token_samples == 1


def test_the_redis_store_folds_samples_atomically(settings, db, make_engine, fresh_latency):
    redis = pytest.importorskip("redis")
    url = "redis://127.0.0.1:6379/11"
    try:
        redis.Redis.from_url(url).flushdb()
    except redis.exceptions.ConnectionError:
        pytest.skip("no Redis on 127.0.0.1:6379")
    e = make_engine("http://127.0.0.1:9/v1")
    store = latency.RedisStore(url)

    store.write({(e.pk, FIRST_TOKEN): [100.0, 200.0]})
    store.write({(e.pk, FIRST_TOKEN): [300.0]})

    avg = store.read()[(e.pk, FIRST_TOKEN)]
    assert (avg.value, avg.samples) == (225.0, 3)
    assert not EngineLatency.objects.exists()


def test_requests_in_flight_are_counted_for_engines_without_a_cap(db, make_engine, settings):
    settings.DIHYA_LOAD_REFRESH = 0.0
    e = make_engine("http://127.0.0.1:9/v1")
    counted = spec(e, counted=True)

    leases = [async_to_sync(slots.acquire)(counted) for _ in range(3)]

    assert slots.in_use_by_engine([e.pk]) == {e.pk: 3}
    slots.refresh_load([e.pk], force=True)
    assert slots.in_flight(e.pk) == 3
    async_to_sync(leases[0].release)()
    assert slots.in_flight(e.pk) == 2  # this process knows at once, before any refresh
    for lease in leases[1:]:
        async_to_sync(lease.release)()
    assert not EngineSlot.objects.filter(engine=e).exists()
    assert async_to_sync(slots.acquire)(spec(e)) is slots.NOOP  # not counted: no I/O at all


def test_counting_leases_do_not_eat_a_cap(db, make_engine):
    e = make_engine("http://127.0.0.1:9/v1")
    async_to_sync(slots.acquire)(spec(e, counted=True))  # counted while uncapped
    capped = spec(e, max_concurrency=1)

    assert async_to_sync(slots.acquire)(capped) is not None


@pytest.mark.parametrize(("name", "value"), [("DIHYA_LATENCY_EXPLORE", 1.5),
                                             ("DIHYA_LATENCY_ALPHA", 0.0),
                                             ("DIHYA_LOAD_REFRESH", -1.0)])
def test_nonsense_routing_settings_fail_the_system_check(settings, name, value):
    from dihya import checks

    assert checks.routing() == []
    setattr(settings, name, value)

    (error,) = checks.routing()
    assert error.id == "dihya.E010" and name in error.msg
