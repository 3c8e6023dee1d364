"""HTTP-level user errors of the service, and the one table mapping every user error to a status code.

They subclass :class:`~chestxai.errors.ChestXAIError` like every other user error, so the service turns all of
them into the same JSON ``{"error": "..."}`` with a 4xx status, and nothing a client sends can produce a 500.
"""

from __future__ import annotations

from chestxai.errors import ChestXAIError, ImageReadError, OutOfScopeError


class ServiceError(ChestXAIError):
    """A request the service refuses; its HTTP status code is in :data:`STATUS` (or a subclass's ``status``)."""


class BadRequestError(ServiceError):
    """A malformed form field (no file, a k that is not a number, labels that are not JSON ...)."""


class UnauthorizedError(ServiceError):
    """A write without the right API token."""


class ForbiddenError(ServiceError):
    """Something switched off on this server (adding cases without a token configured, remote reads)."""


class NotFoundError(ServiceError):
    """An unknown case, or an analysis that has left the in-memory cache."""


class PayloadTooLargeError(ServiceError):
    """An upload above the size limit."""


class UnsupportedMediaError(ServiceError):
    """A request body that is not ``multipart/form-data``."""


class UnavailableError(ServiceError):
    """A feature this server cannot offer as started (no case catalogue loaded)."""


# The one table of status codes: a user error's class (or its nearest listed base class) -> HTTP status.
STATUS: dict[type[ChestXAIError], int] = {
    BadRequestError: 400, UnauthorizedError: 401, ForbiddenError: 403, NotFoundError: 404, PayloadTooLargeError: 413,
    UnsupportedMediaError: 415, UnavailableError: 503, ImageReadError: 422, OutOfScopeError: 422,
}


def status_of(exc: ChestXAIError) -> int:
    """The HTTP status of a user error: its class's own ``status`` if it sets one, else :data:`STATUS`'s entry for
    its class or nearest listed base class (422 for undecodable images and images the scope check refuses),
    else 400."""
    own = getattr(type(exc), "status", None)
    if own is not None:
        return int(own)
    return next((STATUS[c] for c in type(exc).__mro__ if c in STATUS), 400)
