"""The privacy page tells a person, in plain words, where their messages may go."""

from __future__ import annotations

from django.test import Client

from fallbacks.models import Engine


def test_it_says_where_messages_go_and_what_is_masked(alice):
    Engine.objects.create(name="llama-local", provider="openai", model="m",
                          base_url="http://127.0.0.1:8081/v1", region="local")
    Engine.objects.create(name="mistral-api", provider="mistral", model="m",
                          base_url="https://api.mistral.ai", region="EU",
                          processor="third_party")
    browser = Client()
    browser.force_login(alice)

    page = browser.get("/privacy/").content.decode()

    assert "Where your messages may go" in page
    assert "To the organisation's own servers (local)" in page
    assert "To Mistral API, a service run by another company, in EU" in page
    assert "replaced by placeholders before they are sent" in page
    assert "only if you agree to transfers to third-party engines" in page
    assert "Transfer to third-party engines" in page  # the purpose to agree to
    assert "api.mistral.ai" not in page
