"""HTTP-level user errors of the service, and the one table mapping every user error to a status code.

They subclass :class:`~chestxai.errors.ChestXAIError` like every other user error, so the service turns all of
them into the same JSON ``{"error": "..."}`` with a 4xx status, and nothing a client sends can produce a 500.
"""

from __future__ import annotations

from chestxai.errors import ChestXAIError, ImageReadError, OutOfScopeError


class ServiceError(ChestXAIError):
    """A request the service refuses; ``status`` is its HTTP status code."""

    status = 400


class BadRequestError(ServiceError):
    """A malformed form field (no file, a k that is not a number, labels that are not JSON ...)."""

    status = 400


class UnauthorizedError(ServiceError):
    """A write without the right API token."""

    status = 401


class ForbiddenError(ServiceError):
    """Something switched off on this server (adding cases without a token configured, remote reads)."""

    status = 403


class NotFoundError(ServiceError):
    """An unknown case, or an analysis that has left the in-memory cache."""

    status = 404


class PayloadTooLargeError(ServiceError):
    """An upload above the size limit."""

    status = 413


class UnsupportedMediaError(ServiceError):
    """A request body that is not ``multipart/form-data``."""

    status = 415


class UnavailableError(ServiceError):
    """A feature this server cannot offer as started (no case catalogue loaded)."""

    status = 503


def status_of(exc: ChestXAIError) -> int:
    """The HTTP status of a user error: its own for service errors, 422 for undecodable images and images the scope
    check refuses, else 400."""
    if isinstance(exc, ServiceError):
        return exc.status
    if isinstance(exc, (ImageReadError, OutOfScopeError)):
        return 422
    return 400
