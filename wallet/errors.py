"""Domain errors: each carries a stable machine code; the web layer maps the kind to an HTTP status."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class FieldError:
    field: str
    message: str
    code: str = "invalid"

    def as_dict(self) -> dict[str, str]:
        return {"field": self.field, "code": self.code, "message": self.message}


@dataclass
class DomainError(Exception):
    code: str
    message: str
    field_errors: list[FieldError] = field(default_factory=list)

    def __str__(self) -> str:
        return self.message


class InvalidInput(DomainError):
    """The request is understood but its content breaks a rule (HTTP 422)."""


class NotFound(DomainError):
    """No such object, or not one the caller may know of (HTTP 404)."""


class Conflict(DomainError):
    """The request contradicts what is already recorded (HTTP 409)."""


class Forbidden(DomainError):
    """The caller may not use this function at all (HTTP 403)."""
