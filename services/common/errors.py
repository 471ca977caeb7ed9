"""Errors the domain and service layers raise; the gRPC layer maps each to one status code.

Nothing here knows about gRPC: these are facts about a request, not transport details.
"""

from __future__ import annotations

from dataclasses import dataclass


class DomainError(Exception):
    """Base of every error a caller can act on."""


@dataclass(frozen=True)
class FieldViolation:
    """One offending field of a request, named as in the protobuf message."""

    field: str
    description: str


class InvalidArgument(DomainError):
    """The request is malformed; `violations` names each bad field."""

    def __init__(self, violations: list[FieldViolation]) -> None:
        self.violations = violations
        super().__init__("; ".join(f"{v.field}: {v.description}" for v in violations))

    @classmethod
    def single(cls, field: str, description: str) -> InvalidArgument:
        """An error about one field."""
        return cls([FieldViolation(field, description)])


class NotFound(DomainError):
    """The named resource does not exist (or the caller may not know it does)."""


class PermissionDenied(DomainError):
    """The caller is known but may not act on this resource."""


class Aborted(DomainError):
    """A concurrency conflict such as a stale etag: read again and retry."""


@dataclass(frozen=True)
class PreconditionViolation:
    """One thing that stands in the way, of a kind a caller can act on: `kind` names the
    rule (such as CONTACT_BUDGET), `subject` what it is about (a resource name)."""

    kind: str
    subject: str
    description: str


class FailedPrecondition(DomainError):
    """The resource is not in a state that allows the operation; `violations`, when given,
    name each thing in the way (they travel as google.rpc.PreconditionFailure)."""

    def __init__(self, message: str, violations: list[PreconditionViolation] | None = None) -> None:
        self.violations = violations or []
        super().__init__(message)


class Violations:
    """Collects every bad field of a request so that one error names them all."""

    def __init__(self) -> None:
        self._items: list[FieldViolation] = []

    def add(self, field: str, description: str) -> None:
        """Record one bad field."""
        self._items.append(FieldViolation(field, description))

    def extend(self, error: InvalidArgument) -> None:
        """Record the fields of an error raised by a helper, to report them with the rest."""
        self._items.extend(error.violations)

    def raise_if_any(self) -> None:
        """Raise InvalidArgument naming every recorded field, if there is one."""
        if self._items:
            raise InvalidArgument(list(self._items))
