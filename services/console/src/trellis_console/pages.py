"""Rendering: the Jinja2 templates, the page's language, the session cookie and the error pages."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from fastapi import Request
from fastapi.responses import RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from trellis_common.skill_labels import preferred_language
from trellis_console.messages import LANGUAGE_NAMES, LANGUAGES, Messages
from trellis_console.session import COOKIE, Session, SessionSigner, new_session
from trellis_console.settings import ConsoleSettings

# Styles come from our own static file only; no scripts at all (the pages work without JavaScript).
PAGE_CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'{also}; frame-ancestors 'none'; "
    "base-uri 'none'"
)
_TEMPLATES = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))


class Pages:
    def __init__(self, settings: ConsoleSettings, signer: SessionSigner) -> None:
        self.settings, self.signer = settings, signer
        # Sign-out posts here and is redirected to the OIDC provider's logout, which form-action must allow.
        issuer = urlsplit(settings.oidc_issuer) if settings.oidc_issuer else None
        self.csp = PAGE_CSP.format(also=f" {issuer.scheme}://{issuer.netloc}" if issuer else "")

    def session(self, request: Request) -> Session:
        """The request's session (a fresh one when the cookie is missing, expired or tampered with); a
        ``?lang=`` choice is kept in it."""
        if not hasattr(request.state, "session"):
            session = self.signer.load(request.cookies.get(COOKIE)) or new_session()
            asked = request.query_params.get("lang")
            if asked in LANGUAGES and asked != session.language:
                session = replace(session, language=asked)
            request.state.session = session
        found: Session = request.state.session
        return found

    def language(self, request: Request) -> str:
        session = self.session(request)
        header = request.headers.get("accept-language", "")
        if session.language:
            return session.language
        if not header:
            return self.settings.default_language
        return preferred_language(None, header, LANGUAGES)

    def render(self, request: Request, template: str, status: int = 200, **context: Any) -> Response:
        session = self.session(request)
        language = self.language(request)
        base = root(request)
        # The language links reload this page; after a form's POST they lead to the page it belongs to.
        here = request.url.path if request.method == "GET" else context.pop("here", f"{base}/")
        response = _TEMPLATES.TemplateResponse(
            request,
            template,
            {
                "t": Messages(language),
                "lang": language,
                "languages": LANGUAGE_NAMES,
                "base": base,
                "here": here,
                "session": session,
                "csrf": self.signer.csrf_token(session),
                **context,
            },
            status_code=status,
            headers={"Content-Security-Policy": self.csp, "Cache-Control": "no-store"},
        )
        return self.store(request, response, session)

    def store(self, request: Request, response: Response, session: Session) -> Response:
        response.set_cookie(
            COOKIE,
            self.signer.dump(session),
            max_age=self.signer.max_age_s,
            path=root(request) or "/",
            httponly=True,
            samesite="lax",
            secure=self.settings.secure_cookie,
        )
        return response

    def redirect(self, request: Request, to: str, session: Session | None = None) -> Response:
        response = RedirectResponse(to, status_code=303)
        return self.store(request, response, session or self.session(request))

    def to_sign_in(self, request: Request, *, ended: bool = False) -> Response:
        """Signed out (a fresh session) and on to the sign-in page, which returns here afterwards."""
        here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        session = self.session(request).signed_out()
        request.state.session = session
        suffix = "&ended=1" if ended else ""
        return self.redirect(request, f"{root(request)}/signin?next={quote(here, safe='/')}{suffix}", session)

    def problem(self, request: Request, status: int, kind: str) -> Response:
        """A clear page for a refused or failed action: never a stack trace, never raw JSON."""
        return self.render(request, "problem.html", status=status, kind=kind)


def root(request: Request) -> str:
    return str(request.scope.get("root_path", "")).rstrip("/")


def safe_next(request: Request, target: str | None) -> str:
    """Only a path of this console, so the sign-in page cannot send anyone to another site."""
    base = root(request)
    if target and target.startswith(f"{base}/") and not target.startswith("//") and "\\" not in target:
        return target
    return f"{base}/"
