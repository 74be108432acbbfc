"""Errors of the in-process recorder: each says what went wrong, where, and what to do."""

from __future__ import annotations

from simrec_node.errors import SimrecError


class IntegrationError(SimrecError):
    """Base class: a misuse of the in-process recorder or its wrappers."""


class UnsupportedValueError(IntegrationError, TypeError):
    """``rec.log`` was given a value simrec has no message type for."""


class TopicTypeError(IntegrationError, TypeError):
    """A topic was logged with a second message type (one topic carries one type)."""


class RecorderClosedError(IntegrationError, RuntimeError):
    """The recorder was used after ``close()``, or its writer failed."""


class ServeUnavailableError(IntegrationError, NotImplementedError):
    """``serve=True`` was asked for but no in-process live bridge is available."""
