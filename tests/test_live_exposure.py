"""Who can reach the live view: loopback by default, a warning beyond it, ``wss://`` with
``--tls-cert/--tls-key`` (a self-signed certificate made here with the openssl CLI, trusted by
the real @foxglove/ws-protocol client through ``--ca``)."""

from __future__ import annotations

import re
import shutil
import signal
import subprocess
from pathlib import Path

import pytest

from simrec_node.live.front import OLD_TOKEN
from simrec_node.live.server import exposure_warning

from .conftest import publisher_command, simrec_command, start_process, wait_for_line
from .mcap_interop import ensure_node_peers
from .test_live_protocols import offering, run_client


def self_signed(directory: Path) -> tuple[Path, Path]:
    if shutil.which("openssl") is None:
        pytest.skip("needs the openssl command to make a certificate")
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"),
            *("-nodes", "-keyout", str(key), "-out", str(cert), "-days", "1", "-subj", "/CN=localhost"),
            *("-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


def test_serve_with_a_certificate_serves_wss_to_old_and_new_tokens(domain: str, tmp_path: Path) -> None:
    ensure_node_peers()
    cert, key = self_signed(tmp_path)
    server = start_process(
        simrec_command("serve", "--port", "0", "-q", "--tls-cert", str(cert), "--tls-key", str(key)), domain
    )
    publisher = start_process(
        publisher_command("--type", "scalars", "--count", "3000", "--rate", "100"), domain
    )
    try:
        url = re.search(r"wss://[\w.\[\]:]+", wait_for_line(server.stderr, "live view at")).group(0)
        assert url.startswith("wss://127.0.0.1:")
        for tokens in ((OLD_TOKEN,), ("foxglove.sdk.v1",)):
            code, events = run_client(
                url, "--topic", "/test/data", "--count", "5", "--ca", str(cert), *offering(*tokens)
            )
            assert code == 0, events[-3:]
            assert next(e for e in events if e["event"] == "serverInfo")["protocol"] == tokens[0]
            assert len([e for e in events if e["event"] == "message"]) >= 5
        # A ws:// client on the wss:// port is told what to do.
        code, events = run_client(url.replace("wss://", "ws://"), "--timeout", "20")
        assert code == 1 and events[-1]["status"] == 400 and "wss://" in events[-1]["body"]
    finally:
        publisher.kill()
        publisher.communicate(timeout=30)
        server.send_signal(signal.SIGINT)
        _, err = server.communicate(timeout=30)
    assert "speaks TLS only" in err


def test_tls_options_that_cannot_work_are_one_line_errors(domain: str, tmp_path: Path) -> None:
    cert = tmp_path / "cert.pem"
    cert.write_text("not a certificate\n")
    cases = [
        (("serve", "--tls-cert", str(cert)), "go together"),
        (("serve", "--tls-cert", str(cert), "--tls-key", str(cert)), "cannot use TLS certificate"),
        (("serve", "--tls-cert", str(tmp_path / "none.pem"), "--tls-key", str(cert)), "No such file"),
        (("record", "-a", "--tls-cert", str(cert), "-o", str(tmp_path / "x.mcap")), "add --serve"),
    ]
    for args, needle in cases:
        done = subprocess.run(
            simrec_command(*args, "--port", "0"), capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 2, done.stderr
        assert needle in done.stderr and "Traceback" not in done.stderr, done.stderr
    assert not (tmp_path / "x.mcap").exists()


def test_only_an_address_beyond_loopback_warns_and_it_names_what_it_exposes() -> None:
    for host in ("127.0.0.1", "::1", "localhost"):
        assert exposure_warning(host, tls=False, exposes="every topic") is None
    # Not bound here (tests stay on loopback): the words a user binding every address reads.
    warning = exposure_warning("0.0.0.0", tls=False, exposes="every topic of the graph it serves")
    assert (
        "0.0.0.0" in warning and "every topic of the graph it serves" in warning and "clear text" in warning
    )
    assert "clear text" not in exposure_warning("0.0.0.0", tls=True, exposes="every topic")
