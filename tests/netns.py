"""Hosts for tests: Linux network namespaces joined by veth pairs, each with its own loopback.

Every namespace, veth and process made here is removed by ``Hosts.close`` (the fixture's
finalizer), even when the test failed. Names carry a per-run id, so parallel runs do not
collide; the only addresses used are the ones assigned here, inside these namespaces
(10.200.<link>.1-2/30), and each namespace's own 127.0.0.1.
"""

from __future__ import annotations

import itertools
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
IP = shutil.which("ip") or "/usr/sbin/ip"
ROUTER_PORT = 7447
LOCAL_ROUTER = f"tcp/127.0.0.1:{ROUTER_PORT}"  # each namespace's own loopback


def why_no_namespaces() -> str | None:
    """Why namespace tests cannot run here, in words; None when they can."""
    if not sys.platform.startswith("linux"):
        return "network namespaces are Linux only"
    if os.geteuid() != 0:
        return "network namespaces need root"
    if not Path(IP).exists():
        return "no `ip` command (iproute2)"
    probe = f"srprobe{uuid.uuid4().hex[:8]}"
    made = subprocess.run([IP, "netns", "add", probe], capture_output=True, text=True)
    if made.returncode != 0:
        return f"cannot create a network namespace: {made.stderr.strip()}"
    subprocess.run([IP, "netns", "delete", probe], capture_output=True)
    return None


@dataclass
class Host:
    """One namespace: a machine with its own loopback and the addresses of its links."""

    name: str
    namespace: str
    addresses: dict[str, str] = field(default_factory=dict)  # peer host name -> this host's address
    interfaces: dict[str, str] = field(default_factory=dict)  # peer host name -> this host's veth


class Process:
    """A process in a namespace; its stdout and stderr, merged, are read into ``lines`` as they come."""

    def __init__(self, popen: subprocess.Popen) -> None:
        self.popen = popen
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.popen.stdout:
            self.lines.append(line)

    @property
    def text(self) -> str:
        return "".join(self.lines)

    def wait_for(self, needle: str, timeout_s: float = 20.0, count: int = 1) -> None:
        """Until ``count`` lines contain ``needle``; fails with what it said otherwise."""
        deadline = time.monotonic() + timeout_s
        while sum(needle in line for line in list(self.lines)) < count:
            if time.monotonic() > deadline or (self.popen.poll() is not None and not self._reader.is_alive()):
                raise AssertionError(f"never saw {needle!r} (x{count}); got:\n{self.text}")
            time.sleep(0.05)

    def wait(self, timeout_s: float = 30.0) -> int:
        code = self.popen.wait(timeout=timeout_s)
        self._reader.join(timeout=5)
        return code

    def stop(self, timeout_s: float = 20.0) -> int:
        """SIGINT (Ctrl-C), then the exit code once it ended."""
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGINT)
        return self.wait(timeout_s)


class Hosts:
    """Namespaces, links between them and the processes started in them, for one test."""

    def __init__(self) -> None:
        self.run_id = uuid.uuid4().hex[:6]
        self.hosts: dict[str, Host] = {}
        self.processes: list[Process] = []
        self._links = 0

    def add(self, name: str) -> Host:
        namespace = f"simrec-{self.run_id}-{name}"
        _ip("netns", "add", namespace)
        host = self.hosts[name] = Host(name, namespace)
        _ip("-n", namespace, "link", "set", "lo", "up")
        return host

    def link(self, a: str, b: str) -> None:
        """A veth pair between hosts ``a`` and ``b``, 10.200.<n>.1 on ``a`` and .2 on ``b``."""
        self._links += 1
        n = self._links
        host_a, host_b = self.hosts[a], self.hosts[b]
        veth_a, veth_b = f"sr{self.run_id}{n}a", f"sr{self.run_id}{n}b"
        _ip("-n", host_a.namespace, "link", "add", veth_a, "type", "veth", "peer", "name", veth_b)
        _ip("-n", host_a.namespace, "link", "set", veth_b, "netns", host_b.namespace)
        for host, veth, address, other in (
            (host_a, veth_a, f"10.200.{n}.1", b),
            (host_b, veth_b, f"10.200.{n}.2", a),
        ):
            _ip("-n", host.namespace, "addr", "add", f"{address}/30", "dev", veth)
            _ip("-n", host.namespace, "link", "set", veth, "up")
            host.addresses[other] = address
            host.interfaces[other] = veth

    def routed_line(self, line: list[str]) -> list[Process]:
        """Hosts in a line, linked neighbour to neighbour, each with a ``simrec router`` on its own
        loopback that dials the previous host's; returns the routers once all neighbours met."""
        for name in line:
            self.add(name)
        for a, b in itertools.pairwise(line):
            self.link(a, b)
        routers = []
        for i, name in enumerate(line):
            host = self.hosts[name]
            args = ["router", "--listen", LOCAL_ROUTER]
            if i + 1 < len(line):  # the next host dials this one
                args += ["--listen", f"tcp/{host.addresses[line[i + 1]]}:{ROUTER_PORT}"]
            if i > 0:
                previous = self.hosts[line[i - 1]]
                args += ["--connect", f"tcp/{previous.addresses[name]}:{ROUTER_PORT}"]
            routers.append(self.start(name, *args))
        for i, router in enumerate(routers):
            router.wait_for("listening on")
            router.wait_for("+ router", count=(i > 0) + (i + 1 < len(line)))
        return routers

    def set_link(self, a: str, b: str, up: bool) -> None:
        """Take the link between ``a`` and ``b`` down (both ends) or bring it back."""
        for host, other in ((self.hosts[a], b), (self.hosts[b], a)):
            _ip("-n", host.namespace, "link", "set", host.interfaces[other], "up" if up else "down")

    def start(self, host: str, *args: str, env: dict[str, str] | None = None) -> Process:
        """``simrec ARGS`` in ``host``; stopped by ``close`` if still running."""
        return self.spawn(host, [sys.executable, "-m", "simrec_node.cli.main", *args], env)

    def spawn(
        self,
        host: str,
        command: list[str],
        env: dict[str, str] | None = None,
        stdin: int = subprocess.DEVNULL,
    ) -> Process:
        """Any ``command`` in ``host``; stopped by ``close`` if still running."""
        full_env = {**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONPATH": str(REPO), **(env or {})}
        popen = subprocess.Popen(
            [IP, "netns", "exec", self.hosts[host].namespace, *command],
            env=full_env,
            cwd=REPO,
            stdin=stdin,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        process = Process(popen)
        self.processes.append(process)
        return process

    def run(
        self, host: str, *args: str, env: dict[str, str] | None = None, timeout_s: float = 30.0
    ) -> Process:
        """``simrec ARGS`` in ``host``, to its end."""
        process = self.start(host, *args, env=env)
        process.wait(timeout_s)
        return process

    def close(self) -> None:
        for process in self.processes:
            if process.popen.stdin is not None:
                process.popen.stdin.close()
            if process.popen.poll() is None:
                process.popen.send_signal(signal.SIGINT)
        for process in self.processes:
            try:
                process.popen.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.popen.kill()
                process.popen.wait()
        for host in self.hosts.values():  # veths go with their namespace
            subprocess.run([IP, "netns", "delete", host.namespace], capture_output=True)

    def namespaces_left(self) -> list[str]:
        listing = subprocess.run([IP, "netns", "list"], capture_output=True, text=True).stdout
        return [line.split()[0] for line in listing.splitlines() if f"simrec-{self.run_id}-" in line]


def _ip(*args: str) -> None:
    result = subprocess.run([IP, *args], capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)}: {result.stderr.strip()}")
