"""Typed domain errors. Each carries the API error code; api.py maps the type to HTTP."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """Base of every error the API reports to a caller."""

    code = "ERROR"

    def __init__(self, message: str, *, code: str | None = None, **extra: Any) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.extra = extra


class Unauthenticated(DomainError):
    code = "UNAUTHENTICATED"


class Forbidden(DomainError):
    code = "FORBIDDEN"


class FeatureDisabled(Forbidden):
    code = "FEATURE_DISABLED"


class NotFound(DomainError):
    code = "NOT_FOUND"


class Conflict(DomainError):
    code = "CONFLICT"


class AlreadyExists(Conflict):
    """An id (company, project, segment, user, a schedule tick's claim) is taken (API.md: 409)."""

    code = "ALREADY_EXISTS"


class InFlight(Conflict):
    """A scheduled run of an earlier tick still holds the share's lease; the schedule skips it."""

    code = "IN_FLIGHT"


class ShareEnded(Conflict):
    """The share's generation was no longer current when something derived from it was committed."""

    code = "SHARE_ENDED"


class ResultMoved(Conflict):
    """The result in service (the LATEST pointer) moved while a schedule tick was reusing it."""

    code = "MOVED"


class SourceGone(DomainError):
    """The source segment was deleted or is no longer shared with the target project."""

    code = "SOURCE_SEGMENT_GONE"


class InvalidInput(DomainError):
    """The request was understood but a value is not acceptable (422)."""

    code = "VALIDATION_ERROR"


class BadRequest(DomainError):
    """The request itself is malformed (400): bad JSON, a bad cursor, a forbidden target."""

    code = "BAD_REQUEST"


class TooLarge(DomainError):
    code = "TOO_LARGE"


class RetryLater(DomainError):
    code = "RETRY_LATER"

    def __init__(self, message: str = "a dependency is busy; retry shortly", *, retry_after: int = 1) -> None:
        super().__init__(message)
        self.retry_after = retry_after
