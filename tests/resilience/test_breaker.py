"""The circuit breaker: opening, one probe across processes, quota cooldown, forcing."""

from __future__ import annotations

import pytest

from audit.models import AuditEvent
from fallbacks import breaker, breaker_control, catalog
from fallbacks.breaker import Board
from fallbacks.errors import Failure, ProviderError
from fallbacks.models import BreakerState

REFUSED = ProviderError(Failure.CONNECT, "refused")


@pytest.fixture(autouse=True)
def quick(settings):
    settings.DIHYA_BREAKER_FAILURES = 3
    settings.DIHYA_BREAKER_COOLDOWN = 30.0
    settings.DIHYA_BREAKER_REFRESH = 0.0


@pytest.fixture
def engine(make_engine, dead_url):
    return catalog.engine_spec(make_engine(dead_url, name="e1"))


def fail(board: Board, engine, times: int, error: ProviderError = REFUSED) -> None:
    for _ in range(times):
        board.record(engine, error)
    board.flush()


def test_it_opens_after_n_consecutive_failures(db, engine):
    board = Board()
    fail(board, engine, 2)
    assert board.skip_reason(engine) is None
    fail(board, engine, 1)

    assert board.skip_reason(engine) == "circuit_open"
    row = BreakerState.objects.get(engine_id=engine.id)
    assert (row.state, row.reason, row.failures) == ("open", "failures", 3)
    assert row.until > row.since


def test_a_success_resets_the_count_and_costs_no_write_when_clean(db, engine,
                                                                  django_assert_num_queries):
    board = Board()
    fail(board, engine, 2)
    board.record(engine, None)
    board.flush()
    assert BreakerState.objects.get(engine_id=engine.id).failures == 0

    board.record(engine, None)
    with django_assert_num_queries(1):  # the reload only: nothing to write
        board.flush()


def test_another_process_sees_the_open_breaker(db, engine):
    fail(Board(), engine, 3)
    other = Board()
    other.refresh()
    assert other.skip_reason(engine) == "circuit_open"


def test_only_one_process_gets_the_half_open_probe(db, engine, settings):
    settings.DIHYA_BREAKER_COOLDOWN = 0.0
    fail(Board(), engine, 3)
    one, two = Board(), Board()

    one.prepare([engine], key="a")
    two.prepare([engine], key="b")

    assert one.skip_reason(engine) is None  # the probe
    assert one.skip_reason(engine) == "circuit_open"  # only one, in this process too
    assert two.skip_reason(engine) == "circuit_open"
    assert BreakerState.objects.get(engine_id=engine.id).state == "half_open"

    one.record(engine, None)
    one.flush("a")
    assert BreakerState.objects.get(engine_id=engine.id).state == "closed"
    two.refresh()
    assert two.skip_reason(engine) is None


def test_a_failed_probe_opens_it_again(db, engine, settings):
    settings.DIHYA_BREAKER_COOLDOWN = 0.0
    board = Board()
    fail(board, engine, 3)
    board.prepare([engine], key="a")
    assert board.skip_reason(engine) is None

    board.record(engine, REFUSED)
    board.flush("a")

    row = BreakerState.objects.get(engine_id=engine.id)
    assert (row.state, row.probe_until) == ("open", None)


def test_an_unused_probe_claim_is_released(db, engine, settings):
    settings.DIHYA_BREAKER_COOLDOWN = 0.0
    board = Board()
    fail(board, engine, 3)
    board.prepare([engine], key="a")
    board.flush("a")

    assert BreakerState.objects.get(engine_id=engine.id).state == "open"
    other = Board()
    other.prepare([engine], key="b")
    assert other.skip_reason(engine) is None


def test_a_quota_signal_cools_the_engine_down_until_its_reset(db, engine):
    board = Board()
    board.record(engine, ProviderError(Failure.RATE_LIMITED, "slow down", status=429,
                                       retry_after=60))
    board.flush()

    assert board.skip_reason(engine) == "quota_cooldown"
    row = BreakerState.objects.get(engine_id=engine.id)
    assert (row.state, row.reason) == ("open", "quota")
    assert 55 < (row.until - row.since).total_seconds() <= 61


def test_admins_force_it_open_and_closed_with_an_audit_record(db, engine,
                                                              django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        breaker_control.force("e1", "open", actor="alice", reason="maintenance")
    board = breaker.health()
    board.refresh(force=True)
    assert board.skip_reason(engine) == "circuit_open"
    fail(board, engine, 1)  # events never undo an admin's decision
    assert BreakerState.objects.get(engine_id=engine.id).reason == "forced"
    snap = {s["engine"]: s for s in breaker_control.snapshot()}["e1"]
    assert snap["state"] == "open" and snap["forced"] and snap["next_probe"] is None

    with django_capture_on_commit_callbacks(execute=True):
        breaker_control.force(engine.id, "closed", actor="alice", reason="done")
    board.refresh(force=True)
    assert board.skip_reason(engine) is None
    events = AuditEvent.objects.filter(kind="breaker_forced").order_by("id")
    assert [(e.actor, e.engine, e.details["state"]) for e in events] == [
        ("alice", "e1", "open"), ("alice", "e1", "closed")]


def test_it_refuses_to_force_other_states(db, engine):
    with pytest.raises(ValueError):
        breaker_control.force("e1", "half_open", actor="alice")


def test_the_snapshot_lists_every_engine_in_one_query(db, make_engine, dead_url,
                                                      django_assert_num_queries):
    for n in range(3):
        make_engine(dead_url, name=f"x{n}")
    with django_assert_num_queries(1):
        snap = breaker_control.snapshot()
    assert [(s["engine"], s["state"]) for s in snap] == [("x0", "closed"), ("x1", "closed"),
                                                         ("x2", "closed")]


def test_a_probe_whose_process_died_is_claimed_again_after_its_lease(db, engine, settings):
    settings.DIHYA_BREAKER_COOLDOWN = 0.0
    fail(Board(), engine, 3)
    Board().prepare([engine], key="dies")  # claims, then its process is gone
    BreakerState.objects.filter(engine_id=engine.id).update(
        probe_until=BreakerState.objects.get(engine_id=engine.id).since)  # lease over

    survivor = Board()
    survivor.prepare([engine], key="b")

    assert survivor.skip_reason(engine) is None


def test_a_probe_cut_short_is_released_with_its_request(db, engine, settings):
    # The probing request took the probe, then ended without reporting (client gone).
    settings.DIHYA_BREAKER_COOLDOWN = 0.0
    board = Board()
    fail(board, engine, 3)
    board.prepare([engine], key="gone")
    assert board.skip_reason(engine) is None  # the probe is taken
    board.flush("gone")

    row = BreakerState.objects.get(engine_id=engine.id)
    assert (row.state, row.probe_until) == ("open", None)
    assert board.views[engine.id].probe == ""
    board.prepare([engine], key="next")
    assert board.skip_reason(engine) is None  # probed again, not circuit_open for ever


def test_a_stale_probe_mark_is_dropped_when_another_process_closed_the_breaker(
        db, engine, settings):
    settings.DIHYA_BREAKER_COOLDOWN = 0.0
    board = Board()
    fail(board, engine, 3)
    board.prepare([engine], key="lost")
    assert board.skip_reason(engine) is None  # taken, and never reported nor flushed
    breaker_control.force(engine.id, "closed", actor="ops", reason="back")  # elsewhere

    board.refresh(force=True)

    assert board.views[engine.id].probe == ""
    assert board.skip_reason(engine) is None
