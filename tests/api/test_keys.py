"""API keys: stored as digests, revoked and expired at once, last use recorded sparingly."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from dihya.gateway import keys
from dihya.gateway.models import ApiClient, ApiKey
from fallbacks.models import Route


def test_it_stores_only_a_digest_and_a_prefix(db):
    _, raw = keys.issue(ApiClient.objects.create(name="app"))

    assert raw.startswith("dk-") and len(raw) > 40
    stored = ApiKey.objects.get()
    assert stored.digest == keys.digest_of(raw) and raw not in stored.digest
    assert stored.prefix == raw[:12]
    assert keys.verify(raw).client.name == "app"
    assert keys.verify(raw[:-1] + ("A" if raw[-1] != "A" else "B")) is None


def test_it_remembers_a_key_and_records_use_once_a_minute(db):
    client = ApiClient.objects.create(name="app")
    client.routes.add(Route.objects.create(name="default"))
    _, raw = keys.issue(client)

    with CaptureQueriesContext(connection) as first:
        verified = keys.verify(raw)
    with CaptureQueriesContext(connection) as later:
        assert keys.verify(raw) is verified
        assert keys.verify(raw) is verified

    assert verified.routes == {Route.objects.get().pk}
    assert ApiKey.objects.get().last_used is not None
    assert [q["sql"].split()[0] for q in first.captured_queries] == ["SELECT", "SELECT",
                                                                     "UPDATE"]
    assert later.captured_queries == []


def test_it_forgets_a_remembered_key_when_revoked_or_its_client_is_deactivated(
        transactional_db):
    client = ApiClient.objects.create(name="app")
    key, raw = keys.issue(client)
    _, other = keys.issue(client)
    assert keys.verify(raw) and keys.verify(other)

    keys.revoke(key)
    assert keys.verify(raw) is None
    assert keys.verify(other) is not None

    client.active = False
    client.save()
    assert keys.verify(other) is None


def test_it_refuses_an_expired_key_even_when_remembered(db):
    _, raw = keys.issue(ApiClient.objects.create(name="app"),
                          expires=timezone.now() + dt.timedelta(hours=1))
    assert keys.verify(raw)

    remembered = keys._remembered[keys.digest_of(raw)]
    remembered.expires = timezone.now() - dt.timedelta(seconds=1)  # as if an hour went by

    assert keys.verify(raw) is None


def test_the_command_creates_the_client_and_prints_the_key_last(db, capsys):
    Route.objects.create(name="default")
    Route.objects.create(name="other")

    call_command("create_api_key", "billing", "--route", "default")
    call_command("create_api_key", "billing", "--name", "second")

    out, err = capsys.readouterr()
    first, second = out.strip().splitlines()
    assert keys.verify(first).client.name == "billing"
    assert keys.verify(second).routes == {Route.objects.get(name="default").pk}
    assert "shown once" in err and first not in err
    assert ApiKey.objects.count() == 2


@pytest.mark.parametrize("name", ["", " ", "two words", "x" * 65, "a/b"])
def test_the_command_refuses_a_client_name_that_is_not_a_name(db, name):
    with pytest.raises(CommandError, match="invalid client name"):
        call_command("create_api_key", name)

    assert not ApiClient.objects.exists()


def test_an_edit_changes_the_key_stamp_only_once_committed(transactional_db):
    """Another process that loads the client while the edit is uncommitted reads the old row:
    had the stamp changed before the commit, it would keep that old row under the new stamp."""
    client = ApiClient.objects.create(name="app")
    key, _ = keys.issue(client)
    route = Route.objects.create(name="default")
    before = keys.current_stamp()

    for edit in (lambda: client.save(), lambda: client.routes.add(route),
                 lambda: keys.revoke(key)):
        with transaction.atomic():
            edit()
            assert keys.current_stamp() == before
        assert keys.current_stamp() != before
        before = keys.current_stamp()


def test_it_remembers_an_unknown_key_for_a_while(db, monkeypatch):
    """A revoked or mistyped key retried in a loop costs one query per DIHYA_KEY_CACHE_SECONDS,
    not one per request; remembered by digest, so that nobody can lock out a real key by
    sending wrong keys that share its visible prefix; in a bounded table."""
    client = ApiClient.objects.create(name="app")
    _, raw = keys.issue(client)
    wrong = raw[:keys.PREFIX_LENGTH] + "x" * 40

    with CaptureQueriesContext(connection) as queries:
        assert keys.verify("dk-unknown-key") is None
        assert keys.verify("dk-unknown-key") is None
        assert keys.verify(wrong) is None
        assert keys.verify(wrong) is None
    assert len(queries.captured_queries) == 2
    assert keys.verify(raw) is not None  # same prefix, the real key: still accepted

    monkeypatch.setattr(keys, "MAX_REMEMBERED", 3)
    for n in range(10):
        keys.verify(f"dk-unknown-{n}")
    assert len(keys._unknown) <= 3
