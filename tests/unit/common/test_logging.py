"""Log lines: JSON for the services (what log collectors parse), one readable line each on the embedded console."""

from __future__ import annotations

import json
import logging

import pytest
import structlog

from trellis_common.logging import configure_logging, get_logger, readable_line


def test_console_lines_read_as_what_happened() -> None:
    def line(**fields: object) -> str:
        return readable_line(None, "info", {"timestamp": "2026-03-02T09:15:07.123Z", "level": "info", **fields})

    request = line(event="http_request", service="surveys", method="POST", path="/surveys/clusters", status=201, ms=4.2)
    assert request == "09:15:07 surveys       POST /surveys/clusters 201 (4.2 ms)"
    published = line(
        event="event_published",
        service="skills",
        task="relay",
        event_id="0b7c3f2e-6f7e-4d8a-9c39-0c2a1f4b5d6e",
        event_type="eu.trellis.skills.gaps.assessed.v1",
        topic="skills.gaps.assessed.v1",
    )
    assert published == "09:15:07 skills        published skills.gaps.assessed.v1  event=0b7c3f2e"
    handled = line(
        event="event_handled",
        service="matchmaking",
        correlation_id="c0ffee",
        event_id="0b7c3f2e-6f7e-4d8a-9c39-0c2a1f4b5d6e",
        event_type="eu.trellis.skills.gaps.assessed.v1",
        outcome="duplicate",
        batch=3,
    )
    assert handled == "09:15:07 matchmaking   handled skills.gaps.assessed.v1 (duplicate)  event=0b7c3f2e"
    other = line(event="email_failed", level="warning", service="notifications", template="matches", error="a b")
    assert other == "09:15:07 notifications WARNING email_failed  template=matches error='a b'"


def test_services_log_json_and_the_console_does_not(capsys: pytest.CaptureFixture[str]) -> None:
    log = get_logger("test")
    before = structlog.get_config()
    try:
        configure_logging("INFO", json=True)
        log.info("http_request", method="GET", path="/healthz", status=200)
        record = json.loads(capsys.readouterr().out.strip())
        assert record["event"] == "http_request" and record["status"] == 200 and record["level"] == "info"

        configure_logging("INFO", json=False)
        log.info("http_request", method="GET", path="/mail", status=200)
        log.debug("not shown at INFO")
        out = capsys.readouterr().out
        assert out.endswith(" -             GET /mail 200\n") and "not shown" not in out
    finally:
        structlog.configure(**before)  # as the rest of the suite had it


def test_a_librarys_stdlib_log_lines_come_out_as_json_too(capsys: pytest.CaptureFixture[str]) -> None:
    before = structlog.get_config()
    try:
        configure_logging("INFO", json=True)
        configure_logging("INFO", json=True)  # again, as a test or a restart does: still one line per record
        logging.getLogger("aiokafka.consumer.group_coordinator").warning("Heartbeat failed for group %s", "g1")
        logging.getLogger("aiokafka").info("below the libraries' level: not shown")
        lines = capsys.readouterr().out.strip().splitlines()
        assert len(lines) == 1, lines
        record = json.loads(lines[0])
        assert record["event"] == "Heartbeat failed for group g1" and record["level"] == "warning"
        assert record["logger"] == "aiokafka.consumer.group_coordinator" and "timestamp" in record

        configure_logging("INFO", json=False)
        logging.getLogger("aiokafka").error("Unable connect to %r", "127.0.0.1:1")
        assert "ERROR Unable connect to '127.0.0.1:1'" in capsys.readouterr().out
    finally:
        structlog.configure(**before)
