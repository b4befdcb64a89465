"""Where engines process data and where clients' calls may go are declared in the file:
region, processor and masking of engines, regions and third-party switch of clients."""

from __future__ import annotations

import pytest

from dihya import config
from dihya.gateway.models import ApiClient
from fallbacks import catalog
from fallbacks.models import Engine

FILE = """
engines:
  - {name: mistral-api, provider: mistral, base_url: "https://api.mistral.ai",
     model: mistral-small-latest, api_key_env: DIHYA_ENGINE_KEY_MISTRAL,
     region: EU, processor: third_party, mask: true}
  - {name: llama-local, provider: openai, base_url: "http://127.0.0.1:8081/v1",
     model: smollm2-135m, region: local, processor: self_hosted}
routes:
  - {name: default, engines: [llama-local, mistral-api]}
clients:
  - {name: hr-app, routes: [default], regions: [local], third_party: false}
  - {name: web, routes: [default]}
"""


@pytest.fixture
def applied(db):
    return config.apply_yaml(FILE)


def test_it_sets_where_engines_process_data(applied):
    mistral, llama = catalog.route_spec("default").engines[::-1]
    assert (mistral.region, mistral.third_party, mistral.mask) == ("EU", True, True)
    assert (llama.region, llama.third_party, llama.mask) == ("local", False, False)


def test_it_sets_where_a_clients_calls_may_go(applied):
    hr = ApiClient.objects.get(name="hr-app")
    assert (hr.regions, hr.third_party) == (["local"], False)
    web = ApiClient.objects.get(name="web")
    assert (web.regions, web.third_party) == ([], True)


def test_it_masks_third_party_engines_unless_told_otherwise(db):
    config.apply_yaml(FILE.replace(", mask: true", ""))

    assert Engine.objects.get(name="mistral-api").masks
    assert not Engine.objects.get(name="llama-local").masks


def test_it_round_trips_through_export(applied):
    exported = config.export_yaml()

    assert config.apply_yaml(exported) == []
    document = config.load_yaml(exported)
    engines = {e["name"]: e for e in document["engines"]}
    assert (engines["mistral-api"]["region"], engines["mistral-api"]["processor"],
            engines["mistral-api"]["mask"]) == ("EU", "third_party", True)
    clients = {c["name"]: c for c in document["clients"]}
    assert (clients["hr-app"]["regions"], clients["hr-app"]["third_party"]) == (["local"], False)


def test_it_refuses_an_unknown_processor_kind(db):
    with pytest.raises(config.ConfigError) as caught:
        config.apply_yaml(FILE.replace("processor: third_party", "processor: cloud"))

    assert any("processor" in problem for problem in caught.value.problems)
