"""The jobs API queues embeddings too: run by a worker, the vectors read back with the job."""

from __future__ import annotations

import httpx

from dihya.gateway.models import Generation, JobVectors
from dihya.generation import jobs
from tests.api.fake_engine import fake_engine  # noqa: F401 - a fixture

VECTORS = {"object": "list", "model": "e5", "usage": {"prompt_tokens": 4, "total_tokens": 4},
           "data": [{"object": "embedding", "index": 1, "embedding": [0.25, 0.5]},
                    {"object": "embedding", "index": 0, "embedding": [1.0, -1.0]}]}


def test_it_queues_an_embeddings_job_and_answers_its_vectors(api, fake_engine, make_engine,  # noqa: F811
                                                              make_route, make_key):
    make_route("embed", make_engine(fake_engine.url, name="e", model="e5",
                                    capabilities=["embeddings"]))
    auth = {"Authorization": f"Bearer {make_key(routes=['embed'])}"}
    fake_engine.reply(VECTORS)

    accepted = httpx.post(api + "/api/v1/embeddings", headers=auth,
                          json={"model": "embed", "input": ["one", "two"]})

    assert accepted.status_code == 202, accepted.content
    job_id = accepted.json()["id"]
    assert httpx.get(api + f"/api/v1/generations/{job_id}", headers=auth).json()[
        "embeddings"] is None
    assert jobs.run(job_id) == "succeeded"
    job = httpx.get(api + f"/api/v1/generations/{job_id}", headers=auth).json()
    assert job["status"] == "succeeded" and job["engine"] == "e"
    assert job["embeddings"] == [[1.0, -1.0], [0.25, 0.5]]
    assert job["usage"]["prompt_tokens"] == 4
    assert fake_engine.requests[0]["input"] == ["one", "two"]
    assert Generation.objects.get().kind == "embeddings"
    Generation.objects.all().delete()
    assert not JobVectors.objects.exists()  # they go with their generation (erasure, purge)


def test_a_chat_job_has_no_embeddings_field(api, fake_engine, make_engine, make_route,  # noqa: F811
                                            make_key):
    make_route("default", make_engine(fake_engine.url, name="c"))
    auth = {"Authorization": f"Bearer {make_key()}"}
    job_id = httpx.post(api + "/api/v1/generations", headers=auth, json={
        "model": "default", "messages": [{"role": "user", "content": "hi"}]}).json()["id"]

    jobs.run(job_id)

    job = httpx.get(api + f"/api/v1/generations/{job_id}", headers=auth).json()
    assert job["result"] == "Hello" and "embeddings" not in job


def test_an_embeddings_job_with_a_bad_input_is_a_400_naming_it(api, make_key):
    refused = httpx.post(api + "/api/v1/embeddings", json={"model": "embed", "input": []},
                         headers={"Authorization": f"Bearer {make_key()}"})

    assert refused.status_code == 400 and refused.json()["error"]["param"] == "input"
