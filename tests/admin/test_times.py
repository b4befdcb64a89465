"""Times in the console are to the second, in the local time zone: created, started and
finished of one generation (or two alerts a few seconds apart) must not read the same."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import formats, translation

from dihya.console import dashboard
from dihya.gateway.models import Generation
from fallbacks.models import Engine

AT = dt.datetime(2026, 12, 4, 19, 32, 46, tzinfo=dt.UTC)


@pytest.mark.parametrize(("language", "long", "short"), [
    ("en", "Dec. 4, 2026, 19:32:46", "2026-12-04 19:32:46"),
    ("fr", "4 décembre 2026 19:32:46", "04/12/2026 19:32:46"),
])
def test_it_formats_dates_and_times_to_the_second(language, long, short):
    with translation.override(language):
        assert formats.date_format(AT, "DATETIME_FORMAT") == long
        assert formats.date_format(AT, "SHORT_DATETIME_FORMAT") == short
        assert formats.time_format(AT.time(), "TIME_FORMAT") == "19:32:46"


def test_the_generation_list_shows_seconds(db, admin_client, settings):
    settings.TIME_ZONE = "Europe/Paris"
    generation = Generation.objects.create(source="command", route_name="default",
                                           status="succeeded")
    Generation.objects.filter(pk=generation.pk).update(created=AT)

    page = admin_client.get("/admin/gateway/generation/").content.decode()

    assert "Dec. 4, 2026, 20:32:46" in page  # Paris is UTC+1 in December
    assert "p.m." not in page


def test_the_dashboard_shows_the_last_probe_as_a_local_date_and_time(db, admin_client,
                                                                    make_engine, settings):
    settings.TIME_ZONE = "Europe/Paris"
    make_engine("http://127.0.0.1:9/v1", name="up")
    Engine.objects.filter(name="up").update(last_seen_up=AT)

    page = admin_client.get("/admin/").content.decode()

    assert [s["last_seen_up_at"] for s in dashboard.engine_states()] == [AT]
    assert ">2026-12-04 20:32:46</time>" in page
    assert "2026-12-0419:32:46" not in page
