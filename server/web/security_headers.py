"""Security headers on every answer: no framing, no type sniffing, and a Content-Security-Policy
that the pages keep (scripts from our own static files, or inline ones carrying this answer's nonce).
"""

import secrets

from flask import g

# A station screen reads its local agent's /status (?agent=http://127.0.0.1:PORT).
AGENT_ORIGINS = "http://127.0.0.1:* http://localhost:*"
# Inline style attributes (progress bars, map legend) are allowed; inline scripts need the nonce.
CSP = ("default-src 'self'; script-src 'self' 'nonce-{nonce}'; style-src 'self' 'unsafe-inline'; "
       "img-src 'self' data: blob:; media-src 'self' blob:; connect-src 'self' {agents}; object-src 'none'; "
       "base-uri 'self'; form-action 'self'; frame-ancestors 'none'")


def csp_nonce() -> str:
    """This answer's nonce, for `<script nonce="{{ csp_nonce() }}">` in a template."""
    if "csp_nonce" not in g:
        g.csp_nonce = secrets.token_urlsafe(16)
    return g.csp_nonce


def init_security_headers(app) -> None:
    app.jinja_env.globals["csp_nonce"] = csp_nonce

    @app.after_request
    def add_headers(response):
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("Content-Security-Policy", CSP.format(nonce=csp_nonce(), agents=AGENT_ORIGINS))
        return response
