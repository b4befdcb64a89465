"""A bad file is rejected as a whole, naming the bad field, and changes nothing."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from dihya import config

GOOD_ENGINE = "{name: good, provider: openai, base_url: 'http://127.0.0.1:8081/v1', model: m}"


def document(*engines: str, routes: str = "", clients: str = "") -> str:
    text = "engines:\n" + "".join(f"  - {e}\n" for e in (GOOD_ENGINE, *engines))
    if routes:
        text += f"routes:\n  - {routes}\n"
    if clients:
        text += f"clients:\n  - {clients}\n"
    return text


CASES = [
    (document("{name: x, provider: openai, base_url: 'ftp://h/v1', model: m}"),
     "engines[1].base_url: must be an http:// or https:// URL"),
    (document("{name: x, provider: telepathy, base_url: 'http://h.example', model: m}"),
     "engines[1].provider: unknown provider 'telepathy'"),
    (document("{name: x, provider: openai, base_url: 'http://h.example', model: m, colour: red}"),
     "engines[1].colour: unknown key"),
    (document("{name: x, provider: openai, base_url: 'http://h.example', model: m, "
              "timeout: {connect: fast}}"),
     "engines[1].timeout.connect: Input should be a valid number"),
    (document("{name: x, provider: openai, base_url: 'http://h.example', model: m, "
              "enabled: 'yes'}"),
     "engines[1].enabled: Input should be a valid boolean"),
    (document("{name: x, provider: openai, base_url: 'http://h.example', model: m, "
              "api_key: sk-123}"),
     "engines[1].api_key: a key never goes in the file"),
    (document("{name: 'bad name', provider: openai, base_url: 'http://h.example', model: m}"),
     "engines[1].name: Letters, digits"),
    (document(GOOD_ENGINE), "engines[1].name: 'good' is listed twice"),
    (document("{provider: openai, base_url: 'http://h.example', model: m}"),
     "engines[1].name: Field required"),
    (document(routes="{name: r, engines: [good, ghost]}"),
     "routes[0].engines[1]: unknown engine 'ghost'"),
    (document(routes="{name: r, engines: [good], max_tokens: '512'}"),
     "routes[0].max_tokens: Input should be a valid integer"),
    (document(routes="{name: r, engines: [good], embedding_dimension: 0}"),
     "routes[0].embedding_dimension: Input should be greater than or equal to 1"),
    (document(routes="{name: r, engines: [good], embedding_dimension: wide}"),
     "routes[0].embedding_dimension: Input should be a valid integer"),
    (document("{name: x, provider: openai, base_url: 'http://h.example', model: m, "
              "capabilities: [embedding]}"),
     "engines[1].capabilities[0]: Input should be"),
    (document(clients="{name: app, drop_params: tools}"),
     "clients[0].drop_params: Input should be a valid list"),
    (document(clients="{name: app, drop_params: [[tools]]}"),
     "clients[0].drop_params[0]: Input should be a valid string"),
    (document(routes="{name: r, engines: [good], strategy: random}"),
     "routes[0].strategy: unknown strategy 'random'"),
    (document(routes="{name: r, engines: [good, good]}"),
     "routes[0].engines[1]: 'good' is listed twice"),
    (document(routes="{name: r, engines: [{name: good, weight: 1}, {name: good, weight: 2}]}"),
     "routes[0].engines[1]: 'good' is listed twice"),
    (document(routes="{name: r, strategy: weighted, engines: [{name: good, weight: -1}]}"),
     "routes[0].engines[0].weight: Input should be greater than or equal to 0"),
    (document(routes="{name: r, engines: [{name: good, weight: '3'}]}"),
     "routes[0].engines[0].weight: Input should be a valid integer"),
    (document(routes="{name: r, engines: [{name: good, share: 3}]}"),
     "routes[0].engines[0].share: unknown key"),
    (document(routes="{name: r, strategy: weighted, engines: [{name: good, weight: 0}]}"),
     "routes[0].engines: every weight is 0"),
    (document(routes="{name: r, engines: [good], context_fit: 'on'}"),
     "routes[0].context_fit: Input should be a valid boolean"),
    (document(clients="{name: c, routes: [nowhere]}"),
     "clients[0].routes[0]: unknown route 'nowhere'"),
    (document(clients="{name: c, end_users: 1}"),
     "clients[0].end_users: Input should be a valid boolean"),
    ("engines: {name: x}\n", "engines: must be a list of engines"),
    ("engine:\n  - {name: x}\n", "engine: unknown section"),
    ("- just a list\n", "the file must be a mapping"),
    ("engines: [\n", "not valid YAML"),
]


@pytest.mark.parametrize(("text", "message"), CASES, ids=[m.split(":")[0] for _, m in CASES])
def test_it_names_the_bad_field_and_changes_nothing(db, text, message):
    config.apply_yaml(document(routes="{name: kept, engines: [good]}"))
    before = config.export()

    with pytest.raises(config.ConfigError) as caught:
        config.apply_yaml(text)

    assert any(line.startswith(message) for line in caught.value.problems), caught.value.problems
    assert config.export() == before


def test_it_reports_every_problem_at_once(db):
    text = document("{name: x, provider: nope, base_url: 'ftp://h', model: m}",
                    "{name: y, provider: openai, base_url: 'http://h.example', model: ''}")

    with pytest.raises(config.ConfigError) as caught:
        config.apply_yaml(text)

    assert [line.split(":")[0] for line in caught.value.problems] == [
        "engines[1].provider", "engines[1].base_url", "engines[2].model"]


def test_it_never_echoes_a_secret_put_in_the_wrong_field(db):
    text = document("{name: x, provider: openai, base_url: 'sk-abcdef', model: m, "
                    "api_key_env: 'sk-ghijkl', api_key: 'sk-mnopqr'}")

    with pytest.raises(config.ConfigError) as caught:
        config.apply_yaml(text)

    assert "sk-" not in str(caught.value)


def test_the_command_fails_with_the_problems(db, tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(document(routes="{name: r, engines: [ghost]}"))

    with pytest.raises(CommandError, match=r"routes\[0\]\.engines\[0\]: unknown engine"):
        call_command("config", "apply", str(path))
    assert config.export()["engines"] == []
