"""Errors a user can cause.

Everything a user can get wrong (a bad file, a missing column, an unknown finding) raises a subclass of
:class:`ChestXAIError` with a plain one-line message naming the file and the problem. The CLI prints the message
and exits non-zero; the service maps it to a 4xx. Any other exception is a bug.
"""

from __future__ import annotations


class ChestXAIError(Exception):
    """Base class of every error caused by the user's input."""


class ImageReadError(ChestXAIError):
    """An image file cannot be decoded (empty, truncated, not an image, no pixel data, absurd size)."""


class DataFormatError(ChestXAIError):
    """A dataset folder or CSV is not in a layout chestxai understands (missing column, no images, ...)."""


class UnknownFindingError(ChestXAIError):
    """A finding name the dataset or the model does not know."""


class CheckpointError(ChestXAIError):
    """A checkpoint file is missing, corrupt or not a chestxai checkpoint."""


class ConfigError(ChestXAIError):
    """An option value that cannot work (unknown architecture, impossible split, weights not reachable)."""


class OutOfScopeError(ChestXAIError):
    """An image the scope check refuses: not a chest radiograph (``result`` holds the judgement)."""

    def __init__(self, message: str, result: object = None) -> None:
        super().__init__(message)
        self.result = result
