"""Which plans apply is remembered per process behind the plans stamp (dihya.lib.memo), like
routes and keys: an edit made elsewhere applies on the next call once its stamp changes."""

from __future__ import annotations

import pytest
from django.test import override_settings

from dihya.gateway.models import ApiClient
from quotas import plans
from quotas.models import Assignment, Limit


@pytest.fixture
def client(db) -> ApiClient:
    return ApiClient.objects.create(name="billing")


@override_settings(DIHYA_PLAN_CACHE_SECONDS=3600)
def test_it_reads_the_plans_again_once_another_process_renews_the_stamp(client, make_plan,
                                                                         django_assert_num_queries):
    plan = make_plan("starter", (20, "requests", "minute"))
    Assignment.objects.create(plan=plan, client=client)
    assert [b.amount for b in plans.bounds_for(client.pk, None, "")] == [20]
    with django_assert_num_queries(0):  # remembered: no query a call
        plans.bounds_for(client.pk, None, "")

    # Another process's edit: rows changed with no signal here, then that process's commit
    # renews the stamp in the shared cache.
    Limit.objects.filter(plan=plan).update(amount=5)
    assert [b.amount for b in plans.bounds_for(client.pk, None, "")] == [20]
    plans._remembered.stamp.renew(3600)
    assert [b.amount for b in plans.bounds_for(client.pk, None, "")] == [5]


def test_an_edit_in_this_process_applies_on_the_next_call(client, make_plan):
    plan = make_plan("starter", (20, "requests", "minute"))
    assert plans.bounds_for(client.pk, None, "") == []
    Assignment.objects.create(plan=plan, client=client)  # post_save forgets
    assert [b.amount for b in plans.bounds_for(client.pk, None, "")] == [20]
