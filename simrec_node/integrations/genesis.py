"""Genesis' recording calls on simrec's ``Recorder``: ``start_recording`` / ``stop_recording``.

Genesis records with ``scene.start_recording(data_func, rec_options)`` (``rec_options`` carries
``hz`` and, for its file writers, the file) and ``scene.stop_recording(save_to=...)``; its
recorders sample ``data_func`` every ``1 / (hz * dt)`` steps and stamp samples ``step * dt``.
Here the same calls go on the ``Recorder`` (``Recorder(path, dt=scene.dt)``, then ``rec.step()``
after each ``scene.step()``): each ``data_func`` gets a topic in the MCAP log, sampled by the
sim clock ``dt`` keeps, and ``stop_recording`` closes the log and writes what was asked for
(``save_to="robot.npz"`` or ``.mp4``; an ``rec_options`` file such as Genesis'
``NPZFile(filepath=...)``), NPZ with short keys (``get_robot_state/position``).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .errors import RecordingCallError

__all__ = ["GenesisRecording"]

_SAVE_SUFFIXES = (".npz", ".mp4")


def _default_topic(data_func: Callable[[], Any], taken: int) -> str:
    """The function's name (``get_robot_state``), else ``recording_<k>`` (lambdas, partials)."""
    name = getattr(data_func, "__name__", "")
    return name if name.isidentifier() else f"recording_{taken}"


def _check_target(target: str | os.PathLike[str], what: str) -> Path:
    path = Path(target)
    if path.suffix.lower() not in _SAVE_SUFFIXES:
        raise RecordingCallError(
            f"{what} {str(path)!r}: simrec writes .npz (arrays) or .mp4 (camera frames) there; "
            "the MCAP log itself is the Recorder's path"
        )
    return path


def save_log(log: Path, target: Path, topics: list[str] | None = None, *, overwrite: bool = False) -> Path:
    """Convert ``log`` to ``target``: an ``.npz`` with short keys, or an ``.mp4`` of its frames."""
    from simrec_node.convert import Mp4Options, NpzOptions, convert_to_mp4, convert_to_npz, open_log

    with open_log(log) as reader:
        if target.suffix.lower() == ".npz":
            options = NpzOptions(topics=tuple(topics) if topics else None, keys="short")
            convert_to_npz(reader, target, options, overwrite=overwrite)
        else:
            convert_to_mp4(reader, target, Mp4Options(topics=tuple(topics or ())), overwrite=overwrite)
    return target


class GenesisRecording:
    """``start_recording`` / ``stop_recording`` as Genesis' scene has them (a ``Recorder`` base)."""

    # The Recorder provides add, close, _resolve, _sources and path.
    _recordings: list[tuple[str, Path | None]]

    def start_recording(
        self,
        data_func: Callable[[], Any] | None = None,
        rec_options: Any = None,
        *,
        topic: str | None = None,
        hz: float | None = None,
        async_mode: bool | None = None,
        image: bool = False,
    ) -> str:
        """Sample ``data_func`` at each ``rec.step()`` (at ``hz`` of sim time, else every step).

        Args:
            data_func: returns what to record: a dict of tensors/arrays (one ``StateBatch``), a
                tensor, a number, or an image with ``image=True``.
            rec_options: Genesis' recorder options, read for ``hz``, ``async_mode`` and the file
                (``filepath``/``filename``, ``.npz`` or ``.mp4``) ``stop_recording`` writes.
            topic: where it is recorded (default: the function's name, ``/get_robot_state``).
            hz: samples per second of sim time (the sim clock: ``Recorder(dt=...)``).
            async_mode: True (default): written on the writer thread; False: ``step()``
                returns once the sample is on disk.

        Returns:
            The topic.
        """
        if data_func is None or not callable(data_func):
            raise RecordingCallError(
                "start_recording needs a data_func (a function returning what to record); "
                "for camera frames return the image and pass image=True"
            )
        target = None
        if rec_options is not None:
            hz = getattr(rec_options, "hz", None) if hz is None else hz
            if async_mode is None:
                async_mode = getattr(rec_options, "async_mode", None)
            file = getattr(rec_options, "filepath", None) or getattr(rec_options, "filename", None)
            if file:
                target = _check_target(file, "rec_options file")
        recordings = self.__dict__.setdefault("_recordings", [])
        name = topic or _default_topic(data_func, len(recordings))
        self.add(
            data_func, name, hz, image=image, async_mode=True if async_mode is None else bool(async_mode)
        )
        resolved = self._resolve(name)
        recordings.append((resolved, target))
        return resolved

    def stop_recording(
        self, save_to: str | os.PathLike[str] | None = None, *, overwrite: bool = False
    ) -> list[Path]:
        """Stop sampling, close the log, and write ``save_to`` (``.npz``: every numeric topic with
        short keys; ``.mp4``: the camera frames) and each ``rec_options`` file (its own topic).

        Returns:
            The files: the MCAP log first, then the ones converted from it.
        """
        target = None if save_to is None else _check_target(save_to, "save_to")
        recordings = self.__dict__.get("_recordings", [])
        started = {topic for topic, _ in recordings}
        self._sources = [s for s in self._sources if s.topic not in started]
        self.close()
        written = [self.path]
        for topic, file in recordings:
            if file is not None:
                written.append(save_log(self.path, file, [topic], overwrite=overwrite))
        if target is not None:
            written.append(save_log(self.path, target, overwrite=overwrite))
        recordings.clear()
        return written
