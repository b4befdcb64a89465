"""The route's embedding dimension: carried into the snapshot, recorded once from the first
answer, never overwritten by a later one."""

from __future__ import annotations

from fallbacks import catalog
from fallbacks.models import Route


def test_the_snapshot_carries_the_pin(db):
    Route.objects.create(name="embed", embedding_dimension=768)
    Route.objects.create(name="chat")

    assert catalog.route_spec("embed").embedding_dimension == 768
    assert catalog.route_spec("chat").embedding_dimension is None


def test_the_first_answer_pins_a_blank_route_and_a_later_one_does_not(db):
    route = Route.objects.create(name="embed")
    assert catalog.route_spec("embed").embedding_dimension is None  # remembered, blank

    catalog.pin_embedding_dimension(route.pk, 576)
    catalog.pin_embedding_dimension(route.pk, 1024)

    route.refresh_from_db()
    assert route.embedding_dimension == 576
    assert catalog.route_spec("embed").embedding_dimension == 576  # the snapshot learnt it


def test_it_never_overwrites_what_the_admin_pinned(db):
    route = Route.objects.create(name="embed", embedding_dimension=384)

    catalog.pin_embedding_dimension(route.pk, 576)

    route.refresh_from_db()
    assert route.embedding_dimension == 384


def test_a_route_that_is_no_row_pins_nothing(db, django_assert_num_queries):
    with django_assert_num_queries(0):
        catalog.pin_embedding_dimension(0, 576)


def test_it_is_one_statement(db, django_assert_num_queries):
    route = Route.objects.create(name="embed")
    with django_assert_num_queries(1):
        catalog.pin_embedding_dimension(route.pk, 576)
