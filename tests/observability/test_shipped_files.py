"""The Grafana dashboard, the alert rules and the docs name only metrics that exist."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml
from prometheus_client import REGISTRY

from dihya.observability import metrics  # noqa: F401 - defines the metrics
from dihya.observability.state import StateCollector

DOCS = Path(__file__).resolve().parents[2] / "docs"
NAME = re.compile(r"\bdihya_[a-z_]+\b")


def exposed(db) -> set[str]:
    names: set[str] = set()
    families = [f for f in REGISTRY.collect() if f.name.startswith("dihya_")]
    for family in [*families, *StateCollector().collect()]:
        if family.type == "counter":
            names.add(family.name + "_total")
        elif family.type == "histogram":
            names |= {family.name + s for s in ("_bucket", "_sum", "_count")}
        else:
            names.add(family.name)
    return names


def test_the_dashboard_is_valid_json_about_existing_metrics(db):
    dashboard = json.loads((DOCS / "grafana" / "dihya.json").read_text())
    expressions = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]

    used = {n for e in expressions for n in NAME.findall(e)}
    assert used <= exposed(db), used - exposed(db)
    assert len(used) >= 15
    assert len({p["id"] for p in dashboard["panels"]}) == len(dashboard["panels"])


def test_the_alert_rules_are_about_existing_metrics(db):
    rules = yaml.safe_load((DOCS / "prometheus" / "alerts.yml").read_text())
    alerts = {r["alert"]: r["expr"] for g in rules["groups"] for r in g["rules"]}

    assert set(alerts) == {"DihyaEngineBreakerOpen", "DihyaFallbackRateHigh",
                           "DihyaJobQueuedTooLong"}
    used = {n for e in alerts.values() for n in NAME.findall(e)}
    assert used <= exposed(db), used - exposed(db)


def test_the_docs_name_every_metric_and_only_those(db):
    named = set(NAME.findall((DOCS / "observability.md").read_text()))
    names = exposed(db)
    histograms = {n.removesuffix("_bucket") for n in names if n.endswith("_bucket")}
    metrics_ = {n for n in names if not n.endswith(("_bucket", "_sum", "_count"))} | histograms

    assert metrics_ <= named, metrics_ - named
    assert named <= names | histograms, named - names - histograms
