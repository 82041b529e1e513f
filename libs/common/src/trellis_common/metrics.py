"""Prometheus metrics shared by every service; the ``service`` label keeps embedded mode readable."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

EVENTS_CONSUMED = Counter(
    "trellis_events_consumed_total",
    "Events taken from the bus, by outcome (processed, duplicate, dead_lettered, retried)",
    ["service", "type", "outcome"],
)
EVENTS_PRODUCED = Counter("trellis_events_produced_total", "Events published by the outbox relay", ["service", "type"])
HANDLER_SECONDS = Histogram(
    "trellis_handler_seconds",
    "Time to handle one event, transaction included",
    ["service", "type"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
CONSUMER_LAG = Gauge("trellis_consumer_lag", "Messages behind the partition end", ["service", "topic", "partition"])
OUTBOX_BACKLOG = Gauge("trellis_outbox_backlog", "Outbox rows not yet published", ["service"])
OUTBOX_OLDEST_AGE = Gauge("trellis_outbox_oldest_age_seconds", "Age of the oldest unpublished outbox row", ["service"])
OUTBOX_FAILED = Counter(
    "trellis_outbox_failed_total",
    "Outbox rows the broker refused for good, set aside for an operator",
    ["service", "type"],
)
DLQ_TOTAL = Counter("trellis_dlq_total", "Events sent to a dead-letter topic", ["service", "topic"])
EMAILS = Counter(
    "trellis_emails_total", "Emails by outcome (sent, failed, retried, resent_after_crash)", ["service", "outcome"]
)
REMINDERS_FIRED = Counter("trellis_reminders_fired_total", "Scheduled reminders fired", ["service", "schedule", "late"])
