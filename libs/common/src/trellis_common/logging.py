"""structlog logging: JSON lines (services, distributed), or readable lines for a console (embedded mode).
Event and correlation ids ride along in context variables."""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

from trellis_common import json_codec

# Left out of console lines: the start of each line says the service, and ids this long drown the rest.
_CONSOLE_HIDDEN = ("task", "correlation_id")
_EVENT_TYPE_PREFIX = "eu.trellis."
_LIBRARY_HANDLER = "trellis-libraries"  # the one root handler configure_logging adds, replaced when called again


def _short_type(event_type: Any) -> str:
    return str(event_type).removeprefix(_EVENT_TYPE_PREFIX)


def _pairs(fields: MutableMapping[str, Any]) -> str:
    return " ".join(
        f"{key}={value!r}" if isinstance(value, str) and " " in value else f"{key}={value}"
        for key, value in fields.items()
    )


def readable_line(_logger: Any, _method: str, fields: MutableMapping[str, Any]) -> str:
    """``12:00:01 surveys        POST /surveys/clusters 201 (12.5 ms)``: a request, an event published or
    handled, or any other log line as its name and fields."""
    when = str(fields.pop("timestamp", ""))[11:19]
    level = str(fields.pop("level", "info"))
    service = str(fields.pop("service", "") or "-")
    name = str(fields.pop("event", ""))
    exception = fields.pop("exception", None)
    for key in _CONSOLE_HIDDEN:
        fields.pop(key, None)
    if name == "http_request" and {"method", "path", "status"} <= fields.keys():
        text = f"{fields.pop('method')} {fields.pop('path')} {fields.pop('status')}"
        if "ms" in fields:
            text += f" ({fields.pop('ms')} ms)"
    elif name == "event_published" and "event_type" in fields:
        text = f"published {_short_type(fields.pop('event_type'))}"
        fields.pop("topic", None)
    elif name == "event_handled" and "event_type" in fields:
        text = f"handled {_short_type(fields.pop('event_type'))} ({fields.pop('outcome', 'processed')})"
        fields.pop("batch", None)
    else:
        text = name
    if name in ("event_published", "event_handled") and "event_id" in fields:
        fields["event"] = str(fields.pop("event_id"))[:8]  # enough to follow one event from hop to hop
    if fields:
        text += f"  {_pairs(fields)}"
    marker = "" if level == "info" else f"{level.upper()} "
    line = f"{when} {service:<13} {marker}{text}"
    return f"{line}\n{exception}" if exception else line


def _json_line(event: Any, **options: Any) -> str:
    """A log line by pydantic-core's serializer: every event handled writes one or more, and the standard
    library's took several times as long. Values it cannot write go through structlog's own fallback."""
    return json_codec.dumps_text(event, fallback=options.get("default") or repr)


def configure_logging(level: str = "INFO", *, json: bool = True) -> None:
    processors: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.StackInfoRenderer(),
        structlog.processors.format_exc_info,
    ]
    renderer: structlog.types.Processor = structlog.processors.JSONRenderer(_json_line) if json else readable_line
    structlog.configure(
        processors=[*processors, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(sys.stdout),
        cache_logger_on_first_use=False,
    )
    # Libraries (aiokafka, uvicorn, sqlalchemy) log through stdlib: the same stream and the same shape (a JSON
    # object, or a readable line), with the library's logger name; quieter than ours.
    handler = logging.StreamHandler(sys.stdout)
    handler.set_name(_LIBRARY_HANDLER)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[structlog.stdlib.add_logger_name, *processors],
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
        )
    )
    root = logging.getLogger()
    root.handlers = [h for h in root.handlers if h.get_name() != _LIBRARY_HANDLER] + [handler]
    root.setLevel(logging.WARNING)


def get_logger(name: str | None = None) -> structlog.stdlib.BoundLogger:
    return structlog.get_logger(name)  # type: ignore[no-any-return]
