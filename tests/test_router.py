"""``simrec router`` on loopback: where it listens, who joins it, TLS, passwords, errors, launch.

Each router here scouts nowhere (a ``--config`` with multicast off) and listens on a free
127.0.0.1 port, so only this test's processes join it. Across namespaces: test_router_netns.py.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from simrec_node.launch import LaunchError, load_launch

from .conftest import REPO, publisher_command, simrec_command, wait_for_line

NO_SCOUTING = {"scouting": {"multicast": {"enabled": False}}}


def _start(command: list[str], domain: str, **env: str) -> subprocess.Popen:
    full_env = {
        **os.environ,
        "SIMREC_DOMAIN": domain,
        "PYTHONUNBUFFERED": "1",
        "PYTHONPATH": str(REPO),
        **env,
    }
    return subprocess.Popen(
        command, env=full_env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def _write(path: Path, config: dict) -> Path:
    path.write_text(json.dumps(config))
    return path


def _start_router(tmp_path: Path, domain: str, *args: str, listen: str = "tcp/127.0.0.1:0", **env: str):
    config = _write(tmp_path / "router.json5", NO_SCOUTING)
    router = _start(
        simrec_command("router", "--config", str(config), "--listen", listen, *args), domain, **env
    )
    line = wait_for_line(router.stdout, "listening on")
    return router, re.search(r"listening on (\S+)", line).group(1)


def _peer_config(tmp_path: Path, name: str, endpoint: str, **extra: dict) -> str:
    """A process's config that reaches others only through the router at ``endpoint``."""
    config = {
        "mode": "client",  # only the router joins them: peers would expect to mesh
        "connect": {"endpoints": [endpoint]},
        "listen": {"endpoints": ["tcp/127.0.0.1:0"]},
        "scouting": {"multicast": {"enabled": False}, "gossip": {"enabled": False}},
        **extra,
    }
    return str(_write(tmp_path / f"{name}.json5", config))


def _stop(process: subprocess.Popen, sig: int = signal.SIGINT) -> tuple[int, str, str]:
    if process.poll() is None:
        process.send_signal(sig)
    out, err = process.communicate(timeout=20)
    return process.returncode, out, err


def _echo_through(config: str, domain: str, count: int = 5) -> tuple[int, str]:
    """A publisher and ``topic echo`` that meet only at the router: echo's exit code and output."""
    publisher = _start(
        publisher_command("--count", "500", "--rate", "50"), domain, SIMREC_ZENOH_CONFIG=config
    )
    echo_command = simrec_command("topic", "echo", "/test/data", "--count", str(count))
    try:
        for _ in range(10):  # until echo finds the publisher through the router
            echo = subprocess.run(
                echo_command,
                cwd=REPO,
                capture_output=True,
                text=True,
                timeout=30,
                env={
                    **os.environ,
                    "SIMREC_DOMAIN": domain,
                    "SIMREC_ZENOH_CONFIG": config,
                    "PYTHONPATH": str(REPO),
                },
            )
            if "no publisher on" not in echo.stderr:
                break
    finally:
        _stop(publisher)
    return echo.returncode, echo.stdout + echo.stderr


def test_messages_cross_the_router_and_it_stops_cleanly_on_sigterm(tmp_path: Path, domain: str) -> None:
    router, endpoint = _start_router(tmp_path, domain)
    try:
        assert re.fullmatch(r"tcp/127\.0\.0\.1:\d+", endpoint) and not endpoint.endswith(":0")
        code, out = _echo_through(_peer_config(tmp_path, "peer", endpoint), domain)
        assert code == 0, out
    finally:
        code, out, err = _stop(router, signal.SIGTERM)
    assert code == 0, err
    assert "+ client" in out and "router: stopped" in out, out


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl to make test certificates")
def test_tls_endpoints_carry_the_graph(tmp_path: Path, domain: str) -> None:
    _openssl(
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "1",
        "-subj",
        "/CN=test-ca",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        cwd=tmp_path,
    )
    _openssl(
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        "/CN=localhost",
        "-keyout",
        "router.key",
        "-out",
        "router.csr",
        cwd=tmp_path,
    )
    (tmp_path / "san.ext").write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    _openssl(
        "x509",
        "-req",
        "-in",
        "router.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "1",
        "-extfile",
        "san.ext",
        "-out",
        "router.pem",
        cwd=tmp_path,
    )
    router, endpoint = _start_router(
        tmp_path,
        domain,
        "--tls-certificate",
        str(tmp_path / "router.pem"),
        "--tls-key",
        str(tmp_path / "router.key"),
        listen="tls/127.0.0.1:0",
    )
    try:
        assert endpoint.startswith("tls/127.0.0.1:")
        tls = {"transport": {"link": {"tls": {"root_ca_certificate": str(tmp_path / "ca.pem")}}}}
        port = endpoint.rsplit(":", 1)[1]
        config = _peer_config(tmp_path, "peer", f"tls/localhost:{port}", **tls)
        code, out = _echo_through(config, domain)
        assert code == 0, out
    finally:
        code, out, err = _stop(router)
    assert code == 0, err
    assert re.search(r"\+ client \S+ at tls/", out), out


def test_a_router_with_users_admits_the_right_password_only(tmp_path: Path, domain: str) -> None:
    users = tmp_path / "users.txt"
    users.write_text("sim:right-secret\n")
    router, endpoint = _start_router(tmp_path, domain, "--users", str(users))
    try:

        def auth(password: str) -> dict:
            return {"transport": {"auth": {"usrpwd": {"user": "sim", "password": password}}}}

        wrong = _peer_config(tmp_path, "wrong", endpoint, **auth("wrong-secret"))
        listing = subprocess.run(
            simrec_command("topic", "list", "--wait", "1"),
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=30,
            env={
                **os.environ,
                "SIMREC_DOMAIN": domain,
                "SIMREC_ZENOH_CONFIG": wrong,
                "PYTHONPATH": str(REPO),
            },
        )
        assert listing.returncode == 2, listing.stderr  # a client the router refused: one line
        assert listing.stderr.startswith("simrec: error: cannot join the Zenoh network"), listing.stderr
        assert len(listing.stderr.strip().splitlines()) == 1, listing.stderr
        code, out = _echo_through(_peer_config(tmp_path, "right", endpoint, **auth("right-secret")), domain)
        assert code == 0, out
    finally:
        code, out, err = _stop(router)
    assert code == 0, err
    assert out.count("+ client") == 2, out  # the echo and the publisher; never the wrong password


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--listen", "bogus"], "Endpoints must be of the form"),
        (["--config", "/nonexistent/zenoh.json5"], "cannot use Zenoh config /nonexistent/zenoh.json5"),
        (["--user", "sim"], "SIMREC_ZENOH_PASSWORD"),
        (["--tls-certificate", "/nonexistent/cert.pem"], "TLS file /nonexistent/cert.pem does not exist"),
    ],
)
def test_router_mistakes_are_one_line(args: list[str], says: str, domain: str) -> None:
    result = subprocess.run(
        simrec_command("router", *args),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=30,
        env={**os.environ, "SIMREC_DOMAIN": domain, "PYTHONPATH": str(REPO)},
    )
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("simrec: error: ") and says in result.stderr, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_a_port_in_use_is_one_line(tmp_path: Path, domain: str) -> None:
    router, endpoint = _start_router(tmp_path, domain)
    try:
        second = subprocess.run(
            simrec_command("router", "--config", str(tmp_path / "router.json5"), "--listen", endpoint),
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=30,
            env={**os.environ, "SIMREC_DOMAIN": domain, "PYTHONPATH": str(REPO)},
        )
    finally:
        _stop(router)
    assert second.returncode == 2, second.stderr
    assert second.stderr.startswith("simrec: error: cannot start the router"), second.stderr


def test_a_config_in_another_mode_is_refused(tmp_path: Path) -> None:
    from simrec_node.graph.zenoh_config import ConfigError, RouterSettings, router_config

    config = _write(tmp_path / "client.json5", {"mode": "client"})
    with pytest.raises(ConfigError, match="needs mode router"):
        router_config(RouterSettings(config_file=config))


def test_router_settings_layer_over_a_config_file(tmp_path: Path) -> None:
    from simrec_node.graph.zenoh_config import ROUTER_LISTEN, RouterSettings, endpoints_of, router_config

    config = _write(
        tmp_path / "router.json5", {"connect": {"endpoints": ["tcp/127.0.0.1:7001"]}, **NO_SCOUTING}
    )
    plain = router_config(RouterSettings())
    assert endpoints_of(plain, "listen") == [ROUTER_LISTEN] == ["tcp/127.0.0.1:7447"]
    assert json.loads(plain.get_json("transport/shared_memory/enabled")) is False
    assert json.loads(plain.get_json("scouting/multicast/interface")) == "lo"
    layered = router_config(RouterSettings(config_file=config, connect=["tcp/127.0.0.1:7002"]))
    assert endpoints_of(layered, "connect") == ["tcp/127.0.0.1:7002"]  # the command line wins
    assert endpoints_of(layered, "listen") == [ROUTER_LISTEN]
    assert json.loads(layered.get_json("scouting/multicast/enabled")) is False  # the file's own choice stays


def _launch_file(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "router.launch.yaml"
    path.write_text(textwrap.dedent(body))
    return path


def test_a_launch_file_starts_a_router(tmp_path: Path) -> None:
    path = _launch_file(
        tmp_path,
        """
        launch:
        - node: {exec: router, args: "--listen tcp/127.0.0.1:7447 --connect tcp/127.0.0.1:7448"}
        """,
    )
    (process,) = load_launch(path).processes
    assert process.cmd == [
        sys.executable,
        "-m",
        "simrec_node.cli.main",
        "router",
        "--listen",
        "tcp/127.0.0.1:7447",
        "--connect",
        "tcp/127.0.0.1:7448",
    ]
    named = _launch_file(tmp_path, "launch:\n- node: {exec: router, name: hub}\n")
    with pytest.raises(LaunchError, match="runs no graph node"):
        load_launch(named)
