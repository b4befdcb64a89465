"""What a process remembers behind a stamp (dihya.lib.memo): reused until anything changes,
never stale after a change, never trusted with the cache down, one round trip per hop."""

from __future__ import annotations

import threading
from unittest import mock

import pytest

from dihya.lib import memo


@pytest.fixture
def counted(db):
    loads: list[str] = []
    remembered = memo.Remembered("test:memo:stamp", lambda: 3600.0)

    def get(key: str) -> str:
        return remembered.get(key, lambda: loads.append(key) or f"value of {key}")

    memo.shared_cache().delete("test:memo:stamp")
    return remembered, get, loads


def test_a_value_is_loaded_once_then_remembered(counted):
    _, get, loads = counted
    assert get("a") == get("a") == "value of a"
    assert loads == ["a"]


def test_a_change_is_forgotten_here_at_once_and_everywhere_on_commit(
        counted, django_capture_on_commit_callbacks):
    remembered, get, loads = counted
    get("a")
    before = remembered.stamp.read()

    with django_capture_on_commit_callbacks(execute=True):
        remembered.forget()
        get("a")  # this process reloads before the commit…

    assert remembered.stamp.read() != before  # …and the commit tells every other process
    get("a")
    assert loads == ["a", "a", "a"]  # the value loaded before the commit was not trusted


def test_another_process_s_change_is_seen_on_the_next_read(counted):
    _, get, loads = counted
    get("a")

    memo.shared_cache().set("test:memo:stamp", "another process committed a change")

    get("a")
    assert loads == ["a", "a"]


def test_with_the_cache_down_every_read_goes_to_the_database(counted):
    _, get, loads = counted
    with mock.patch.object(memo.shared_cache(), "get", side_effect=ConnectionError("down")):
        get("a")
        get("a")
    assert loads == ["a", "a"]


def test_a_hop_reads_every_stamp_in_one_round_trip(counted):
    _, get, _ = counted
    other = memo.Remembered("test:memo:other", lambda: 3600.0)
    cache = memo.shared_cache()
    with (mock.patch.object(cache, "get_many", return_value={}) as many,
          mock.patch.object(cache, "get") as single, memo.read_once()):
        get("a")
        other.get("b", lambda: "b")
        get("c")
    assert many.call_count == 1 and single.call_count == 0
    assert {"test:memo:stamp", "test:memo:other"} <= set(many.call_args.args[0])


def test_every_thread_shares_one_cache_client():
    seen = []
    threads = [threading.Thread(target=lambda: seen.append(memo.shared_cache()))
               for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({id(c) for c in seen}) == 1
