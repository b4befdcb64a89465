"""The record of processing (GDPR Art. 30): every engine with its region, the transfers
outside the EU, the volume per engine; signed, so a changed copy is caught."""

from __future__ import annotations

import csv
import io
import json

import pytest
from django.core.management import CommandError, call_command
from django.test import Client, override_settings

from audit import log
from fallbacks.models import Engine


@pytest.fixture
def engines(db):
    Engine.objects.create(name="llama-local", provider="openai", model="smollm2",
                          base_url="http://127.0.0.1:8081/v1", region="local")
    Engine.objects.create(name="mistral-api", provider="mistral", model="mistral-small",
                          base_url="https://api.mistral.ai", region="EU",
                          processor="third_party")
    Engine.objects.create(name="gpt", provider="openai", model="gpt-4o",
                          base_url="https://api.openai.com/v1", region="US",
                          processor="third_party", mask=False)
    log.record("generation", engine="mistral-api", status="succeeded", attempts=[
        {"engine": "llama-local", "outcome": "connect_error", "latency_ms": 1.0},
        {"engine": "gpt", "outcome": "region_not_allowed", "latency_ms": 0.0},
        {"engine": "mistral-api", "outcome": "ok", "latency_ms": 9.0,
         "masked": {"PERSON": 2, "EMAIL_ADDRESS": 1}}])


def produce(*args: str) -> str:
    out = io.StringIO()
    call_command("record_of_processing", *args, stdout=out)
    return out.getvalue()


@override_settings(DIHYA_CONTROLLER_NAME="ACME SAS", DIHYA_DPO_CONTACT="dpo@acme.example")
def test_it_lists_every_engine_with_its_region_and_the_transfers(engines):
    signed = json.loads(produce("--format", "json"))
    made = signed["record"]

    assert made["controller"]["name"] == "ACME SAS"
    assert made["controller"]["dpo"] == "dpo@acme.example"
    assert {(r["engine"], r["region"], r["processor"], r["masked"])
            for r in made["recipients"]} == {
        ("llama-local", "local", "self_hosted", False),
        ("mistral-api", "EU", "third_party", True), ("gpt", "US", "third_party", False)}
    assert [t["engine"] for t in made["transfers_outside_eu"]] == ["gpt"]
    assert "generation" in [p["purpose"] for p in made["purposes"]]
    assert made["retention_days"]["audit"] == 365
    volume = {v["engine"]: v for v in made["volume"]}
    assert (volume["mistral-api"]["calls"], volume["mistral-api"]["served"]) == (1, 1)
    assert volume["mistral-api"]["masked"] == {"EMAIL_ADDRESS": 1, "PERSON": 2}
    assert (volume["llama-local"]["calls"], volume["gpt"]["calls"]) == (1, 0)
    assert signed["signature"]["algorithm"] == "HMAC-SHA256"


def test_verify_accepts_the_copy_and_detects_a_changed_one(engines, tmp_path):
    copy = tmp_path / "record.json"
    produce("--format", "json", "--output", str(copy))

    assert "intact" in produce("--verify", str(copy))
    changed = json.loads(copy.read_text())
    changed["record"]["transfers_outside_eu"] = []
    copy.write_text(json.dumps(changed))
    with pytest.raises(CommandError, match="does NOT match"):
        produce("--verify", str(copy))


def test_an_html_copy_embeds_what_verify_checks(engines, tmp_path):
    page = tmp_path / "record.html"
    produce("--format", "html", "--output", str(page))

    text = page.read_text()
    assert "Transfers outside the EU" in text and "mistral-api" in text
    assert "intact" in produce("--verify", str(page))
    page.write_text(text.replace('"US"', '"EU"'))
    with pytest.raises(CommandError):
        produce("--verify", str(page))


def test_the_csv_has_a_row_per_fact(engines):
    rows = list(csv.reader(io.StringIO(produce("--format", "csv"))))

    assert rows[0] == ["section", "item", "field", "value"]
    assert ["recipients", "gpt", "region", "US"] in rows
    assert rows[-1][0] == "signature"


def test_the_admin_page_produces_it(engines, admin_user):
    browser = Client()
    browser.force_login(admin_user)

    page = browser.get("/admin/record-of-processing/")
    download = browser.get("/admin/record-of-processing/?format=json&since=2026-01-01")
    wrong = browser.get("/admin/record-of-processing/?format=pdf")

    assert page.status_code == 200 and b"Record of processing" in page.content
    assert download["Content-Disposition"].startswith("attachment")
    assert download.json()["record"]["period"]["since"].startswith("2026-01-01")
    assert wrong.status_code == 400 and wrong.json()["error"]["param"] == "format"
