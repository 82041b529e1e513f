"""The monitoring component: the Prometheus Operator's ServiceMonitor and alerting rules, and the Grafana
dashboard of the platform's metrics."""

from __future__ import annotations

from typing import Any

from trellis.manifests.apps import PART_OF


def rule(alert: str, expr: str, duration: str, severity: str, summary: str, description: str) -> dict[str, Any]:
    return {
        "alert": alert,
        "expr": expr,
        "for": duration,
        "labels": {"severity": severity},
        "annotations": {"summary": summary, "description": description},
    }


def prometheus_rule() -> dict[str, Any]:
    rules = [
        rule(
            "TrellisDeadLetterGrowth",
            "sum by (service, topic) (increase(trellis_dlq_total[15m])) > 0",
            "0m",
            "warning",
            "{{ $labels.service }} dead-lettered events from {{ $labels.topic }}",
            "Read them with `trellis dlq list {{ $labels.topic }}`; after the fix, `trellis dlq replay`.",
        ),
        rule(
            "TrellisOutboxStale",
            "max by (service) (trellis_outbox_oldest_age_seconds) > 300",
            "5m",
            "critical",
            "{{ $labels.service }} has not published its outbox for over 5 minutes",
            "The relay cannot reach Kafka or is not running; events wait in the database.",
        ),
        rule(
            "TrellisOutboxRefused",
            "sum by (service) (increase(trellis_outbox_failed_total[15m])) > 0",
            "0m",
            "critical",
            "{{ $labels.service }}: the broker refused outbox rows for good",
            "Rows are set aside for an operator; check topic ACLs and message size.",
        ),
        rule(
            "TrellisConsumerLag",
            "sum by (service, topic) (trellis_consumer_lag) > 1000",
            "10m",
            "warning",
            "{{ $labels.service }} is {{ $value }} events behind on {{ $labels.topic }}",
            "Scale out (up to the topic's partitions) or look for a slow handler.",
        ),
        rule(
            "TrellisEmailsFailing",
            'sum by (service) (increase(trellis_emails_total{outcome="failed"}[30m])) > 0',
            "0m",
            "warning",
            "Emails were given up after every retry",
            "See the delivery log of the notifications service and the SMTP relay.",
        ),
        rule(
            "TrellisServiceDown",
            'up{job=~".*trellis.*"} == 0',
            "5m",
            "critical",
            "{{ $labels.job }} cannot be scraped",
            "The pod is down or its /metrics endpoint does not answer.",
        ),
    ]
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": {"name": "trellis", "labels": {"app.kubernetes.io/part-of": PART_OF}},
        "spec": {"groups": [{"name": "trellis", "rules": rules}]},
    }


def service_monitor() -> dict[str, Any]:
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "ServiceMonitor",
        "metadata": {"name": "trellis", "labels": {"app.kubernetes.io/part-of": PART_OF}},
        "spec": {
            "jobLabel": "app.kubernetes.io/name",
            "selector": {"matchLabels": {"app.kubernetes.io/part-of": PART_OF, "app.kubernetes.io/component": "api"}},
            "endpoints": [{"port": "http", "path": "/metrics", "interval": "30s", "scrapeTimeout": "10s"}],
        },
    }


def panel(ident: int, title: str, exprs: list[tuple[str, str]], unit: str, x: int, y: int) -> dict[str, Any]:
    return {
        "id": ident,
        "type": "timeseries",
        "title": title,
        "datasource": {"type": "prometheus", "uid": "${datasource}"},
        "gridPos": {"h": 8, "w": 12, "x": x, "y": y},
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "options": {"legend": {"displayMode": "table", "placement": "right"}, "tooltip": {"mode": "multi"}},
        "targets": [
            {"refId": chr(ord("A") + i), "expr": expr, "legendFormat": legend} for i, (expr, legend) in enumerate(exprs)
        ],
    }


def dashboard() -> dict[str, Any]:
    svc = '{service=~"$service"}'
    specs = [
        (
            "Events consumed per type",
            [(f"sum by (type) (rate(trellis_events_consumed_total{svc}[5m]))", "{{type}}")],
            "ops",
        ),
        (
            "Events published per type",
            [(f"sum by (type) (rate(trellis_events_produced_total{svc}[5m]))", "{{type}}")],
            "ops",
        ),
        (
            "Consumer outcomes",
            [(f"sum by (service, outcome) (rate(trellis_events_consumed_total{svc}[5m]))", "{{service}} {{outcome}}")],
            "ops",
        ),
        (
            "Handler latency p95 per type",
            [
                (
                    f"histogram_quantile(0.95, sum by (le, type) (rate(trellis_handler_seconds_bucket{svc}[5m])))",
                    "{{type}}",
                )
            ],
            "s",
        ),
        ("Consumer lag", [(f"sum by (service, topic) (trellis_consumer_lag{svc})", "{{service}} {{topic}}")], "short"),
        (
            "Outbox backlog and oldest row",
            [
                (f"sum by (service) (trellis_outbox_backlog{svc})", "{{service}} rows"),
                (f"max by (service) (trellis_outbox_oldest_age_seconds{svc})", "{{service}} age (s)"),
            ],
            "short",
        ),
        (
            "Dead-lettered events",
            [(f"sum by (service, topic) (increase(trellis_dlq_total{svc}[1h]))", "{{topic}}")],
            "short",
        ),
        (
            "Emails by outcome",
            [('sum by (outcome) (increase(trellis_emails_total{service="notifications"}[1h]))', "{{outcome}}")],
            "short",
        ),
        (
            "Reminders fired",
            [(f"sum by (service, schedule) (increase(trellis_reminders_fired_total{svc}[1h]))", "{{schedule}}")],
            "short",
        ),
        (
            "HTTP ingress",
            [("sum by (type, outcome) (rate(trellis_ingress_events_total[5m]))", "{{type}} {{outcome}}")],
            "ops",
        ),
    ]
    panels = [
        panel(i + 1, title, exprs, unit, (i % 2) * 12, (i // 2) * 8) for i, (title, exprs, unit) in enumerate(specs)
    ]
    return {
        "uid": "trellis-platform",
        "title": "Trellis platform",
        "tags": ["trellis"],
        "timezone": "browser",
        "schemaVersion": 39,
        "version": 1,
        "refresh": "30s",
        "time": {"from": "now-6h", "to": "now"},
        "templating": {
            "list": [
                {"name": "datasource", "type": "datasource", "query": "prometheus", "label": "Data source"},
                {
                    "name": "service",
                    "type": "query",
                    "label": "Service",
                    "datasource": {"type": "prometheus", "uid": "${datasource}"},
                    "query": "label_values(trellis_outbox_backlog, service)",
                    "includeAll": True,
                    "multi": True,
                    "allValue": ".*",
                    "current": {"text": "All", "value": "$__all"},
                    "refresh": 2,
                },
            ]
        },
        "panels": panels,
    }
