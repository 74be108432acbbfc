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


class InvalidTimeError(IntegrationError, ValueError):
    """``sim_time``, ``stamp_ns`` or ``step`` given to ``rec.log`` is out of range (an MCAP time
    is 0 .. 2**64-1 ns); raised at the call, naming the topic."""


class MissingClockError(IntegrationError, ValueError):
    """``rec.step()`` got no ``sim_time`` and knows no ``dt``, but a source was added with ``hz``:
    sampling it by rate needs a clock (it is never silently sampled at every step instead)."""


class RecordingCallError(IntegrationError, ValueError):
    """A Genesis-style ``start_recording`` / ``stop_recording`` call simrec cannot follow: no
    ``data_func``, or a file to save to that is neither ``.npz`` nor ``.mp4``."""


class RecorderNotClosedWarning(UserWarning):
    """A ``Recorder`` was never closed: the interpreter exited, or it was garbage-collected,
    while open. The file was finished then; call ``close()`` (or use ``with``) to say when."""


class WrapperArgumentError(IntegrationError, TypeError):
    """A Gymnasium wrapper was given an argument that does not apply to its env."""
