"""Stored responses: read back, listed, deleted, continued, per client, erased and purged.

A stored response is personal data like its generation: only its own client reaches it
(another's id is the same 404 as an unknown one), `store: false` keeps nothing, and erasing
the person or the retention period removes it.
"""

from __future__ import annotations

import datetime as dt

import openai
import pytest

from audit import consent
from dihya.gateway.models import ApiClient, StoredResponse
from dihya.privacy import erasure
from tests.api.fake_engine import answer, fake_engine  # noqa: F401 - a fixture


@pytest.fixture
def route(fake_engine, make_engine, make_route):  # noqa: F811
    return make_route("default", make_engine(fake_engine.url, name="fake"))


def client_of(api: str, key: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=api + "/v1", api_key=key, max_retries=0, timeout=30)


@pytest.fixture
def sdk(api, route, make_key):
    return client_of(api, make_key())


def test_it_reads_back_a_stored_response(sdk, fake_engine):  # noqa: F811
    fake_engine.reply(answer("Bonjour."))
    done = sdk.responses.create(model="default", input="Hello", metadata={"t": "1"})

    again = sdk.responses.retrieve(done.id)

    assert again.model_dump() == done.model_dump()
    stored = StoredResponse.objects.get()
    assert stored.id == done.id and stored.generation.result == "Bonjour."


def test_it_lists_the_input_items(sdk):
    done = sdk.responses.create(model="default", input=[
        {"role": "user", "content": "one"}, {"role": "assistant", "content": "two"},
        {"role": "user", "content": "three"}])

    newest_first = sdk.responses.input_items.list(done.id)
    page = sdk.responses.input_items.list(done.id, order="asc", limit=2)
    rest = sdk.responses.input_items.list(done.id, order="asc", after=page.last_id)

    assert [i.content[0].text for i in newest_first.data] == ["three", "two", "one"]
    assert [i.content[0].text for i in page.data] == ["one", "two"] and page.has_more
    assert [i.content[0].text for i in rest.data] == ["three"] and not rest.has_more
    assert all(i.id and i.type == "message" for i in newest_first.data)
    assert newest_first.first_id == newest_first.data[0].id


def test_it_deletes_a_stored_response(sdk):
    done = sdk.responses.create(model="default", input="Hello")

    deleted = sdk.responses.with_raw_response.delete(done.id)

    assert deleted.http_response.json() == {"id": done.id, "object": "response",
                                            "deleted": True}
    assert not StoredResponse.objects.exists()
    with pytest.raises(openai.NotFoundError):
        sdk.responses.retrieve(done.id)


def test_it_continues_a_conversation_from_previous_response_id(sdk, fake_engine):  # noqa: F811
    fake_engine.reply(answer("Hi Ada."))
    fake_engine.reply(answer("Your name is Ada."))
    first = sdk.responses.create(model="default", input="My name is Ada.",
                                 instructions="Be kind.")

    second = sdk.responses.create(model="default", input="What is my name?",
                                  previous_response_id=first.id)

    assert second.output_text == "Your name is Ada."
    assert second.previous_response_id == first.id
    assert fake_engine.requests[1]["messages"] == [  # instructions are not carried over
        {"role": "user", "content": "My name is Ada."},
        {"role": "assistant", "content": "Hi Ada."},
        {"role": "user", "content": "What is my name?"}]
    listed = sdk.responses.input_items.list(second.id, order="asc")
    assert [i.role for i in listed.data] == ["user", "assistant", "user"]


def test_another_clients_response_is_not_found(api, sdk, make_key):
    done = sdk.responses.create(model="default", input="Hello")
    other = client_of(api, make_key("other"))

    with pytest.raises(openai.NotFoundError) as unknown:
        other.responses.retrieve(done.id)
    with pytest.raises(openai.NotFoundError):
        other.responses.delete(done.id)
    with pytest.raises(openai.NotFoundError):
        other.responses.input_items.list(done.id)
    with pytest.raises(openai.BadRequestError) as continued:
        other.responses.create(model="default", input="Hi", previous_response_id=done.id)

    assert unknown.value.body["code"] == "response_not_found"
    assert continued.value.body["param"] == "previous_response_id"
    assert StoredResponse.objects.count() == 1


def test_it_stores_nothing_when_asked_not_to(sdk, fake_engine):  # noqa: F811
    done = sdk.responses.create(model="default", input="Hello", store=False)
    streamed = list(sdk.responses.create(model="default", input="Hello", store=False,
                                         stream=True))

    assert done.store is False and streamed[-1].response.store is False
    assert not StoredResponse.objects.exists()
    with pytest.raises(openai.NotFoundError):
        sdk.responses.retrieve(done.id)


def test_a_streamed_response_is_stored_before_it_ends(sdk, fake_engine):  # noqa: F811
    events = list(sdk.responses.create(model="default", input="Hello", stream=True))

    final = events[-1].response
    assert sdk.responses.retrieve(final.id).output_text == final.output_text == "Hello"


def test_erasing_a_person_removes_their_stored_responses(api, route, make_key,
                                                          django_user_model):
    key = make_key("helpdesk")
    ApiClient.objects.filter(name="helpdesk").update(end_users=True, user_ids="username")
    alice = django_user_model.objects.create_user("alice")
    consent.grant(alice)
    consent.grant(django_user_model.objects.create_user("bob"))
    sdk = client_of(api, key)
    mine = sdk.responses.create(model="default", input="About me", user="alice")
    theirs = sdk.responses.create(model="default", input="About someone", user="bob")

    exported = erasure.export(alice)["responses"]
    receipt = erasure.erase(alice, by="test")

    assert [r["id"] for r in exported] == [mine.id]
    assert exported[0]["input_items"][0]["content"][0]["text"] == "About me"
    assert receipt.counts["responses"] == 1
    assert list(StoredResponse.objects.values_list("id", flat=True)) == [theirs.id]
    with pytest.raises(openai.BadRequestError):
        sdk.responses.create(model="default", input="Again", previous_response_id=mine.id)


def test_stored_responses_expire_after_their_retention(sdk):
    old = sdk.responses.create(model="default", input="Old")
    new = sdk.responses.create(model="default", input="New")
    StoredResponse.objects.filter(id=old.id).update(
        created=StoredResponse.objects.get(id=old.id).created - dt.timedelta(days=31))

    counts = erasure.purge_expired({"response": 30})

    assert counts["responses"] == 1
    assert list(StoredResponse.objects.values_list("id", flat=True)) == [new.id]
