"""What members and boards read after the demo names organisations and skills, never ids or taxonomy codes.

The README's demo runs embedded; then a review reminder is made due and a digital skills plan with KPIs is
added, so every output people read exists: each email (subject, sender, plain text, HTML, calendar entry), the
email previews in English, German and French, the unsubscribe page and the page behind a match email's Accept
button, the skills heatmap (SVG in three languages, and the PNG's metadata and every text it draws), the review
agenda and the KPI chart. Each is scanned for a UUID and for a taxonomy code of any framework (``digcomp:``,
``greencomp:``, ``greenwork:``, ``intl:``).
"""

from __future__ import annotations

import io
import re
from datetime import datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

import httpx
from asgi_lifespan import LifespanManager
from matplotlib.text import Text
from PIL import Image

from tests.support.polling import eventually
from trellis.demo import CLUSTER, MEMBERS, PARTNERS, RESPONSES, run_demo
from trellis.embedded import build_embedded
from trellis.mailsink import MailSink
from trellis_common.auth import Scope
from trellis_common.clock import ManualClock
from trellis_common.skill_labels import skill_label
from trellis_common.skill_scales import FRAMEWORK_SCALE
from trellis_notifications.domain.deliveries import EmailTemplate
from trellis_skills.api import cluster_heatmap
from trellis_skills.heatmap import heatmap_figure
from trellis_skills.repository import HeatmapAxis

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.IGNORECASE)
CODE = re.compile(rf"\b({'|'.join(FRAMEWORK_SCALE)}):")


def offending(text: str) -> list[str]:
    return [m.group(0) for m in UUID.finditer(text)] + [m.group(0) for m in CODE.finditer(text)]


def what_people_read(message: EmailMessage) -> dict[str, str]:
    """The parts of an email a person reads (headers that identify machines, like Message-ID, left out)."""
    read = {"subject": str(message["Subject"]), "from": str(message["From"])}
    for part in message.walk():
        kind = part.get_content_type()
        if kind in ("text/plain", "text/html"):
            read[kind] = str(part.get_content())
        elif kind == "text/calendar":
            lines = str(part.get_content()).splitlines()
            read[kind] = "\n".join(line for line in lines if line.startswith(("SUMMARY", "DESCRIPTION", " ")))
    return read


async def unsubscribe_page_of(client: httpx.AsyncClient, sink: MailSink) -> str:
    """The page behind the unsubscribe link of the first match email."""
    match_mail = next(m.message for m in sink.messages if m.subject.endswith("for your skill gaps"))
    link = str(match_mail["List-Unsubscribe"]).strip("<>").removeprefix("http://127.0.0.1:8000")
    page = await client.get(link)
    assert page.status_code == 200, page.text
    return page.text


async def reply_page_of(client: httpx.AsyncClient, sink: MailSink) -> str:
    """The page behind the Accept button of the first match email (opening it records nothing)."""
    match_mail = next(m for m in sink.messages if m.subject.endswith("for your skill gaps"))
    found = re.search(r"/matchmaking/reply/[^?\s]+", match_mail.text())
    assert found, "the match email carries a reply link"
    page = await client.get(found.group(0), params={"answer": "accepted"})
    assert page.status_code == 200, page.text
    return page.text


async def test_what_people_read_names_organisations_and_skills(tmp_path: Path) -> None:
    embedded = build_embedded(tmp_path, manual_clock=True)
    scanned: dict[str, str] = {}
    async with LifespanManager(embedded.app, startup_timeout=60, shutdown_timeout=60):
        transport = httpx.ASGITransport(app=embedded.app)
        async with httpx.AsyncClient(
            headers=embedded.admin_headers(), transport=transport, base_url="http://trellis", timeout=60
        ) as client:
            report = await run_demo(client)
            cluster_id = report.cluster_id

            # What the first review will discuss: the clock moves to 13 days before it, past the 14-day reminder.
            unsubscribe_page = await unsubscribe_page_of(client, embedded.mail)
            assert report.next_review is not None
            reminder_time = datetime.fromisoformat(report.next_review) - timedelta(days=13)
            for runtime in embedded.runtimes.values():
                assert isinstance(runtime.clock, ManualClock)
                runtime.clock.set(reminder_time)
                runtime.wake_workers()
            plan = {
                "type": "digital_skills_plan",
                "kpis": [
                    {"name": "Members trained in data skills", "unit": "members", "baseline": 0, "target": 12,
                     "target_date": "2027-06-30"},
                ],
            }  # fmt: skip
            created = await client.post(f"/strategy/clusters/{cluster_id}/strategies", json=plan)
            assert created.status_code == 201, created.text

            def reviews(sink: MailSink = embedded.mail) -> list[EmailMessage]:
                # The cluster manager (who reads German) gets the review emails.
                return [m.message for m in sink.messages if "eva.steiner@cluster.example" in m.recipients]

            async def reminded() -> bool:
                return bool(reviews())

            await eventually(reminded, timeout=60, what="the review reminder email")

            actions = (await client.get(f"/strategy/clusters/{cluster_id}/actions")).json()["items"]
            scanned["review agenda (API)"] = "\n".join(item["text"] for item in actions)
            scanned["KPI chart"] = (await client.get(f"/strategy/strategies/{created.json()['id']}/kpis.svg")).text
            svg = await client.get(f"/skills/clusters/{cluster_id}/heatmap.svg")
            png = await client.get(f"/skills/clusters/{cluster_id}/heatmap.png")
            scanned["heatmap SVG"] = svg.text
            for lang in ("de", "fr"):
                scanned[f"heatmap SVG {lang}"] = (
                    await client.get(f"/skills/clusters/{cluster_id}/heatmap.svg", params={"lang": lang})
                ).text
            scanned["accept/decline page"] = await reply_page_of(client, embedded.mail)
            for template in EmailTemplate:
                for lang in ("en", "de", "fr"):
                    for form in ("html", "text"):
                        preview = await client.get(
                            f"/notifications/templates/{template.value}/preview", params={"lang": lang, "format": form}
                        )
                        assert preview.status_code == 200, preview.text
                        scanned[f"preview {template.value} {lang} {form}"] = preview.text
            scanned["unsubscribe page"] = unsubscribe_page

            # The PNG: what its metadata says, and every text matplotlib draws on it.
            skills = embedded.runtimes["skills"]
            heatmap = await cluster_heatmap(
                skills, Scope.everything("test"), cluster_id, HeatmapAxis.MEMBER, None, None
            )
            drawn = [t.get_text() for t in heatmap_figure(heatmap).findobj(Text) if t.get_text()]
            scanned["heatmap PNG text"] = "\n".join(drawn)
            scanned["heatmap PNG metadata"] = "\n".join(
                f"{k}: {v}" for k, v in Image.open(io.BytesIO(png.content)).info.items()
            )

    for index, received in enumerate(embedded.mail.messages):
        for part, text in what_people_read(received.message).items():
            scanned[f"email {index} ({received.subject}) {part}"] = text

    found = {where: hits for where, text in scanned.items() if (hits := offending(text))}
    assert found == {}, f"ids or codes where people read: {found}"

    # And what they read instead: the cluster's, members' and partners' names, the skills' labels.
    members = [m["name"] for m in MEMBERS if m["name"] in RESPONSES]
    assert all(name in scanned["heatmap SVG"] for name in members)
    assert all(any(text.startswith(name[:20]) for text in drawn) for name in members), "long names are shortened"
    assert f"Skills heatmap: {CLUSTER['name']}" in drawn
    assert skill_label("digcomp:5.2") in drawn and skill_label("digcomp:5.2") in scanned["heatmap SVG"]
    assert CLUSTER["name"] in scanned["KPI chart"]
    agenda = scanned["review agenda (API)"]
    assert any(name in agenda for name in members) and any(p["name"] in agenda for p in PARTNERS)
    assert skill_label("digcomp:5.2") in agenda
    [review, *_] = reviews()
    assert review["From"].addresses[0].display_name == CLUSTER["name"]
    review_text = what_people_read(review)["text/plain"]
    assert any(name in review_text for name in members), "the agenda's actions name members"
    for received in embedded.mail.messages:
        read = what_people_read(received.message)
        assert received.message["From"].addresses[0].display_name == CLUSTER["name"], received.subject
        assert CLUSTER["name"] in read["text/html"] and "Trellis</td>" not in read["text/html"]
    german = next(m for m in embedded.mail.messages if "lukas@huber.example" in m.recipients)
    assert skill_label("digcomp:5.2", "de") in what_people_read(german.message)["text/plain"]
    # The PNG has its text as ink: more dark pixels than the same picture drawn without any text.
    image = Image.open(io.BytesIO(png.content)).convert("L")
    assert sum(1 for v in image.get_flattened_data() if isinstance(v, int) and v < 100) > 2000
