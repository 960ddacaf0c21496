"""Domain errors: what a service refuses, with a stable code and a message a worker can read.

Services raise `DomainError`; they know nothing of HTTP or prompts. The API answers one as
problem+json (`status` is its HTTP status, `slug` its stable `type`), a scenario as an error
prompt in the worker's language (`title` is the translatable message, `detail` an optional
second line). `extra` holds facts for programs (the SKU code, the status now, ...)."""

from __future__ import annotations

from flask_babel.speaklater import LazyString


class DomainError(Exception):
    def __init__(self, status: int, slug: str, title: str | LazyString, detail: str | LazyString | None = None,
                 **extra):
        super().__init__(title)
        self.status = status
        self.slug = slug
        self.title = title
        self.detail = detail
        self.extra = extra

    def __str__(self) -> str:
        return str(self.title)
