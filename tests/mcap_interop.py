"""Independent peers written by others, run with node from tests/interop/.

``node_validate`` reads a file with @mcap/core (TypeScript); ``ensure_node_peers`` installs
the npm packages (also @foxglove/ws-protocol, a real Foxglove WebSocket client) once.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

INTEROP_DIR = Path(__file__).parent / "interop"


def ensure_node_peers() -> None:
    """Install tests/interop's npm packages if any is missing; skip when node/npm are absent."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("node/npm not installed: cannot run the interop peers")
    wanted = json.loads((INTEROP_DIR / "package.json").read_text())["dependencies"]
    if not all((INTEROP_DIR / "node_modules" / name).exists() for name in wanted):
        subprocess.run(
            ["npm", "install", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=INTEROP_DIR,
            check=True,
            timeout=180,
        )


def node_validate(path: Path, expect_ok: bool = True) -> dict:
    """Run tests/interop/validate.mjs (official @mcap/core reader) on path."""
    ensure_node_peers()
    out = subprocess.run(
        ["node", str(INTEROP_DIR / "validate.mjs"), str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    if not expect_ok:
        assert out.returncode != 0, f"corrupt file accepted: {out.stdout}"
        return {"stderr": out.stderr}
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)
