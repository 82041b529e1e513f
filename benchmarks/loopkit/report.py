"""The benchmark's table: each figure next to the limit measured in the same run."""

from __future__ import annotations

from typing import Any


def _row(label: str, rate: float | None, limit: float | None, note: str = "") -> str:
    if rate is None:
        return f"| {label} | – | – | {note} |"
    share = f"{100 * rate / limit:.1f}%" if limit else "–"
    return f"| {label} | {rate:,.1f} | {share} | {note} |"


def print_table(results: dict[str, Any]) -> None:
    limit = results.get("limit", {})
    with_db = limit.get("kafka_db")
    print(
        f"\nLoop benchmark: {results['members']} members per cluster, {results['offers']} offers × "
        f"{results['seats']} seats\n"
    )
    print("| stage | events/s | share of the limit with DB | notes |")
    print("|---|---|---|---|")
    if limit:
        print(_row("limit: raw aiokafka, 4 hops, one process", limit["kafka"], with_db))
        print(_row("limit with one PostgreSQL insert per hop, committed per batch", with_db, with_db))
    project = results.get("project")
    if project:
        stages = project.get("stages", {})
        for name, label in (
            ("skills", "skills (response → gaps event)"),
            ("matchmaking", "matchmaking (gaps → matched event)"),
            ("notifications", "notifications (matched → email at the sink)"),
            ("strategy", "strategy (matched → projection)"),
        ):
            stage = stages.get(name)
            if stage:
                note = f"{stage['events']} events, {stage['cpu_s']:.1f} CPU s"
                if "rematch_events" in stage:
                    note += f", {stage['rematch_events']} re-match events"
                print(_row(label, stage["rate"], with_db, note))
        burst = project.get("burst")
        if burst:
            note = f"{burst['emailed']} of {burst['responses']} emailed in {burst['seconds']:.1f} s"
            print(_row("end to end, burst (response → member email)", burst["rate"], with_db, note))
    embedded = results.get("embedded")
    if embedded:
        note = f"{embedded['emailed']} of {embedded['responses']} emailed in {embedded['seconds']:.1f} s"
        print(_row("embedded mode, burst end to end", embedded["rate"], with_db, note))
    if project:
        steady = project["steady"]
        print(
            f"\nLatency at a steady {steady['rate']:g} responses/s ({steady['emailed']} of {steady['responses']} "
            f"emailed): p50 {steady['p50_s']:.2f} s, p99 {steady['p99_s']:.2f} s, max {steady['max_s']:.2f} s"
        )
        for leg, figures in steady.get("hops", {}).items():
            print(f"  {leg}: p50 {figures['p50_s']:.2f} s, p99 {figures['p99_s']:.2f} s")
        if burst:
            cpu = burst["cpu_s"]
            print("\nCPU seconds per service during the burst (ms per response emailed):")
            for name, seconds in cpu.items():
                per = f"{seconds / burst['emailed'] * 1000:.1f} ms" if burst["emailed"] else "none emailed"
                print(f"  {name:<14} {seconds:7.1f} s  ({per})")
            besides = burst.get("cpu_besides_s", {})
            if besides:
                print("  and besides the services:")
            for name, seconds in besides.items():
                per = f"{seconds / burst['emailed'] * 1000:.1f} ms" if burst["emailed"] else "none emailed"
                print(f"    {name:<40} {seconds:7.1f} s  ({per})")
        print("\nEmails per member (one response each):")
        for run in ("stage", "burst", "steady"):
            counts = project.get(f"emails_{run}")
            if counts is None:
                continue
            settled = "" if project.get(f"settled_{run}", True) else " — NOT SETTLED when counted (backlog left)"
            print(
                f"  {run:<7} {counts['emails']} emails to {counts['members']} members; "
                f"{counts['without_email']} without, {counts['with_more_than_one']} with more than one "
                f"(most: {counts['most_to_one_member']}){settled}"
            )
        print(f"\nService logs: {project['logs']}")
