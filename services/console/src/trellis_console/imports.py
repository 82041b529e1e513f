"""A CSV sent on to a service's all-or-nothing import: the console checks what it can (a file, not too large),
then shows the service's answer on the import page: the report of the rows to fix, or what was imported."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from fastapi import Request
from fastapi.responses import Response
from starlette.datastructures import FormData, UploadFile

from trellis_console.backends import Rejected
from trellis_console.context import Console, Person

IMPORT_MAX_BYTES = 5 * 1024 * 1024  # the services' default limit; each answers 413 above its own


@dataclass(frozen=True)
class CsvImport:
    service: str
    path: str
    here: str  # the import page, where the answer is shown
    page: Mapping[str, Any]  # the page's context: cluster, section, title and intro
    problem: Callable[[Rejected], dict[str, Any]]  # the refusal as the page shows it
    imported: Callable[[Any], Any]  # the service's success answer as the page shows it
    params: Mapping[str, Any] = field(default_factory=dict)


async def send_csv(request: Request, console: Console, person: Person, form: FormData, spec: CsvImport) -> Response:
    pages = console.pages
    upload = form.get("file")
    shown = {"here": spec.here, **spec.page}
    if not isinstance(upload, UploadFile) or not upload.filename:
        return pages.render(request, "csv_import.html", status=400, missing=True, **shown)
    content = await upload.read(IMPORT_MAX_BYTES + 1)
    if len(content) > IMPORT_MAX_BYTES:
        return pages.render(request, "csv_import.html", status=413, too_large=True, **shown)
    try:
        answer = await console.backends.request(
            person.token,
            spec.service,
            "POST",
            spec.path,
            params=dict(spec.params) or None,
            files={"file": (upload.filename, content, "text/csv")},
        )
    except Rejected as exc:
        return pages.render(request, "csv_import.html", status=exc.status, **shown, **spec.problem(exc))
    return pages.render(request, "csv_import.html", imported=spec.imported(answer), **shown)
