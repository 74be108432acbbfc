"""Running the processes of a ``LaunchPlan``: prefixed output, respawn, required, clean shutdown.

Each child runs in its own session (process group), so a Ctrl-C in the terminal reaches only
the launcher; the launcher then sends exactly one SIGINT to each child's group, waits for
them to finish (a recorder closes its file), and escalates to SIGTERM and then SIGKILL for
those that do not stop in time.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from .actions import ProcessAction
from .printing import OutputPrinter, describe_exit

_POLL_S = 0.05
_READER_JOIN_S = 2.0
_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGKILL)


@dataclass
class _Child:
    action: ProcessAction
    proc: subprocess.Popen | None = None
    reader: threading.Thread | None = None
    respawn_at: float | None = None
    starts: int = 0
    log: IO[bytes] | None = None
    signalled: int = -1  # index into _STOP_SIGNALS of the last stop signal sent


class Supervisor:
    """Starts every process, watches them, and shuts them all down on request or on failure.

    ``run()`` returns the launch's exit status: 0 when everything ended well, 1 when a
    process failed to start, exited non-zero on its own, or had to be terminated or killed.
    """

    def __init__(
        self,
        processes: list[ProcessAction],
        printer: OutputPrinter,
        *,
        sigterm_timeout: float = 5.0,
        sigkill_timeout: float = 5.0,
        log_dir: Path | None = None,
    ) -> None:
        self._children = [_Child(action) for action in processes]
        self._printer = printer
        self._timeouts = (sigterm_timeout, sigkill_timeout)
        self._log_dir = log_dir
        self._stop_requests = 0
        self.failed = False
        self.restarts: dict[str, int] = {action.name: 0 for action in processes}

    def request_stop(self) -> None:
        """Begin a clean shutdown; each further request skips to the next, harsher signal.

        Safe to call from a signal handler: it takes no lock (a handler that waits for a lock
        the interrupted main thread holds would hang the launcher). The loops poll the count."""
        self._stop_requests += 1

    def run(self) -> int:
        try:
            for child in self._children:
                if self._stop_requests:
                    break
                self._start(child)
            self._watch()
        finally:
            self._shutdown()
            for child in self._children:
                if child.log is not None:
                    child.log.close()
        return 1 if self.failed else 0

    # starting ----------------------------------------------------------------------------
    def _start(self, child: _Child) -> None:
        action = child.action
        env = {**os.environ, **action.env, "PYTHONUNBUFFERED": "1"}
        output = subprocess.PIPE
        if action.output == "log":
            try:
                child.log = child.log or self._open_log(action.name)
            except OSError as exc:
                self._printer.launch(f"{action.name}: cannot open its log file: {exc}")
                self.failed = True
                self.request_stop()
                return
            output = child.log
        try:
            child.proc = subprocess.Popen(
                action.cmd,
                cwd=action.cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # Ctrl-C reaches the launcher only; it forwards one SIGINT
            )
        except OSError as exc:
            self._printer.launch(f"{action.name}: cannot start {action.cmd[0]!r}: {exc.strerror}")
            self.failed = True
            self.request_stop()
            return
        child.starts += 1
        child.signalled = -1
        again = f" (restart {child.starts - 1})" if child.starts > 1 else ""
        self._printer.launch(f"{action.name}: started, pid {child.proc.pid}{again}")
        if child.proc.stdout is not None:
            child.reader = threading.Thread(
                target=self._printer.pump, args=(action.name, child.proc.stdout), daemon=True
            )
            child.reader.start()

    def _open_log(self, name: str) -> IO[bytes]:
        self._log_dir.mkdir(parents=True, exist_ok=True)
        path = self._log_dir / f"{name}.log"
        self._printer.launch(f"{name}: output goes to {path}")
        return path.open("ab")

    # watching ----------------------------------------------------------------------------
    def _watch(self) -> None:
        """Until a stop is requested or nothing is left to run."""
        while not self._stop_requests:
            self._reap(shutting_down=False)
            now = time.monotonic()
            for child in self._children:
                if child.respawn_at is not None and now >= child.respawn_at:
                    child.respawn_at = None
                    self.restarts[child.action.name] += 1
                    self._start(child)
            if not any(c.proc is not None or c.respawn_at is not None for c in self._children):
                self._printer.launch("all processes have finished")
                return
            time.sleep(_POLL_S)

    def _reap(self, *, shutting_down: bool) -> None:
        for child in self._children:
            if child.proc is None or child.proc.poll() is None:
                continue
            code = child.proc.returncode
            if child.reader is not None:
                child.reader.join(_READER_JOIN_S)
            child.proc, child.reader = None, None
            self._exited(child, code, shutting_down)

    def _exited(self, child: _Child, code: int, shutting_down: bool) -> None:
        action = child.action
        if shutting_down:
            forced = child.signalled > 0
            self._printer.launch(f"{action.name}: {describe_exit(code)}" + (" (forced)" if forced else ""))
            self.failed |= forced
            return
        self._printer.launch(f"{action.name}: {describe_exit(code)}")
        self.failed |= code != 0
        if action.required:
            self._printer.launch(f"{action.name} is required: shutting down the launch")
            self.request_stop()
        elif action.respawn:
            self._printer.launch(f"{action.name}: respawning in {action.respawn_delay:g} s")
            child.respawn_at = time.monotonic() + action.respawn_delay

    # stopping ----------------------------------------------------------------------------
    def _shutdown(self) -> None:
        """SIGINT to every child's group, then SIGTERM and SIGKILL to those still running."""
        for child in self._children:
            child.respawn_at = None
        self._reap(shutting_down=True)
        running = sum(c.proc is not None for c in self._children)
        if running:
            self._printer.launch(f"stopping: SIGINT to {running} process(es)")
        level = 0
        # Only the request that began the shutdown is spent; one that came in the meantime (a
        # quick second Ctrl-C) escalates below.
        handled_requests = min(self._stop_requests, 1)
        deadline = self._signal_all(level)
        while any(c.proc is not None for c in self._children):
            time.sleep(_POLL_S)
            self._reap(shutting_down=True)
            escalate = self._stop_requests > handled_requests
            handled_requests = self._stop_requests
            if level < len(_STOP_SIGNALS) - 1 and (escalate or time.monotonic() >= deadline):
                level += 1
                deadline = self._signal_all(level)

    def _signal_all(self, level: int) -> float:
        sig = _STOP_SIGNALS[level]
        for child in self._children:
            if child.proc is None or child.signalled >= level:
                continue
            if level:
                self._printer.launch(f"{child.action.name}: still running, sending {sig.name}")
            with contextlib.suppress(ProcessLookupError):
                os.killpg(child.proc.pid, sig)
            child.signalled = level
        timeout = self._timeouts[level] if level < len(self._timeouts) else 0.0
        return time.monotonic() + timeout
