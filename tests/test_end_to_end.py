"""The whole path on a real llama.cpp engine, in-process and through a real django-q2 cluster."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from dihya.gateway.models import Generation
from dihya.generation import jobs, pipeline
from dihya.generation.requests import ChatBody
from tests.conftest import wait_until

pytestmark = pytest.mark.engine


def queue(route: str, prompt: str = "Say hello") -> Generation:
    body = ChatBody(model=route, messages=[{"role": "user", "content": prompt}], max_tokens=16)
    return pipeline.admit(pipeline.Caller(client=None), body, queued=True).generation


def test_it_falls_back_from_a_dead_engine_to_llama(db, llama, dead_url, make_engine, make_route):
    make_route("default", make_engine(dead_url, name="dead"), make_engine(llama, name="llama"))
    generation = queue("default")

    assert jobs.run(generation.pk) == "succeeded"

    generation.refresh_from_db()
    assert generation.result.strip()
    assert generation.engine_name == "llama"
    assert generation.completion_tokens > 0
    outcomes = [(a.engine_name, a.outcome) for a in generation.attempts.all()]
    assert outcomes == [("dead", "connect_error"), ("llama", "ok")]


def test_it_fails_with_every_attempt_when_all_engines_are_dead(db, make_engine, make_route,
                                                             dead_url):
    make_route("dead", make_engine(dead_url), make_engine(dead_url.replace("/v1", "/x")))
    generation = queue("dead")

    assert jobs.run(generation.pk) == "failed"

    generation.refresh_from_db()
    assert generation.error_code == "all_engines_failed"
    assert [a.outcome for a in generation.attempts.all()] == ["connect_error", "connect_error"]


def test_it_runs_a_job_only_once_when_delivered_twice(db, llama, make_engine, make_route):
    make_route("default", make_engine(llama))
    generation = queue("default")

    assert jobs.run(generation.pk) == "succeeded"
    assert jobs.run(generation.pk) == "succeeded"

    generation.refresh_from_db()
    assert generation.deliveries == 1
    assert generation.attempts.count() == 1


def test_a_real_qcluster_runs_the_job(qcluster, llama, dead_url, make_engine, make_route, capsys):
    make_route("default", make_engine(dead_url, name="dead"), make_engine(llama, name="llama"))

    call_command("generate", "Say hello", "--route", "default", "--wait", "60")

    out, err = capsys.readouterr()
    assert out.strip()
    assert "dead" in err and "connect_error" in err
    generation = Generation.objects.get()
    assert generation.status == "succeeded"
    assert generation.engine_name == "llama"
    wait_until(lambda: generation.deliveries or Generation.objects.get().deliveries == 1)


@pytest.mark.parametrize("args, message", [
    (["", "--route", "default"], "the prompt is empty"),
    (["Say hello", "--route", "nope"], "model_not_found"),
    (["Say hello", "--route", "default", "--max-tokens", "0"], "invalid request"),
])
def test_the_generate_command_refuses_bad_input_clearly(db, dead_url, make_engine, make_route,
                                                        args, message):
    from django.core.management.base import CommandError

    make_route("default", make_engine(dead_url))

    with pytest.raises(CommandError, match=message):
        call_command("generate", *args, "--wait", "0")
    assert not Generation.objects.exists()
