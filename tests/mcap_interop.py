"""The independent check: tests/interop/validate.mjs reads a file with @mcap/core (TypeScript)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

INTEROP_DIR = Path(__file__).parent / "interop"


def node_validate(path: Path, expect_ok: bool = True) -> dict:
    """Run tests/interop/validate.mjs (official @mcap/core reader) on path."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("node/npm not installed: cannot run the @mcap/core interop check")
    if not (INTEROP_DIR / "node_modules" / "@mcap" / "core").exists():
        subprocess.run(
            ["npm", "install", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=INTEROP_DIR,
            check=True,
            timeout=180,
        )
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
