"""Alerts and the Grafana dashboard query only metrics the services really export."""

from __future__ import annotations

import json
import re
from typing import Any

import prometheus_client
import yaml

import trellis_common.metrics  # noqa: F401 - registers the common metrics
import trellis_ingress.api  # noqa: F401 - registers the ingress metrics
from trellis.manifests.layout import K8S

MONITORING = K8S / "components" / "monitoring"
METRIC = re.compile(r"\btrellis_[a-z_]+\b")


def exported() -> set[str]:
    names = set()
    for family in prometheus_client.REGISTRY.collect():
        if not family.name.startswith("trellis_"):
            continue
        if family.type == "counter":
            names.add(f"{family.name}_total")
        elif family.type == "histogram":
            names |= {f"{family.name}_bucket", f"{family.name}_sum", f"{family.name}_count"}
        else:
            names.add(family.name)
    return names


def dashboard() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((MONITORING / "trellis-dashboard.json").read_text())
    return loaded


def test_the_registry_knows_the_metrics_we_alert_on() -> None:
    assert {"trellis_dlq_total", "trellis_consumer_lag", "trellis_handler_seconds_bucket"} <= exported()


def test_alert_rules_use_exported_metrics() -> None:
    docs = [doc for doc in yaml.safe_load_all((MONITORING / "prometheusrule.yaml").read_text()) if doc]
    rules = [rule for doc in docs for group in doc["spec"]["groups"] for rule in group["rules"]]
    used = {name for rule in rules for name in METRIC.findall(rule["expr"])}
    assert used, "no alert uses a Trellis metric"
    assert used <= exported(), f"alerts use metrics nobody exports: {sorted(used - exported())}"
    assert all(rule["annotations"]["summary"] for rule in rules)


def test_dashboard_panels_use_exported_metrics_and_cover_the_platform() -> None:
    board = dashboard()
    exprs = [target["expr"] for panel in board["panels"] for target in panel["targets"]]
    used = {name for expr in exprs for name in METRIC.findall(expr)}
    assert used <= exported(), f"panels use metrics nobody exports: {sorted(used - exported())}"
    for needed in (
        "trellis_events_consumed_total",
        "trellis_events_produced_total",
        "trellis_handler_seconds_bucket",
        "trellis_consumer_lag",
        "trellis_emails_total",
    ):
        assert needed in used, f"the dashboard shows nothing of {needed}"
    assert any("by (type)" in expr for expr in exprs), "throughput per event type"
    assert len({panel["id"] for panel in board["panels"]}) == len(board["panels"])
