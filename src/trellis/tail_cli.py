"""``trellis tail``: the newest records of a topic (or the oldest), decoded."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from trellis.topic_reading import Bootstrap, describe, read_topic
from trellis_common.command_errors import run_or_exit


def tail_command(
    topic: Annotated[str, typer.Argument(help="Full topic name, including any prefix")],
    bootstrap: Bootstrap = "127.0.0.1:9092",
    limit: Annotated[int, typer.Option(min=1, help="Show at most this many records")] = 10,
    from_beginning: Annotated[
        bool, typer.Option("--from-beginning", help="The oldest records instead of the newest")
    ] = False,
) -> None:
    """Print the newest records of a topic (or the oldest), oldest first, as indented JSON."""
    for record in run_or_exit(read_topic(bootstrap, topic, limit=limit, newest=not from_beginning), "tail"):
        typer.echo(json.dumps(describe(record), indent=2, ensure_ascii=False, default=str))
