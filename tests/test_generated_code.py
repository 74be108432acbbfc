"""The committed protobuf code must match schemas/: a stale file fails here."""

from __future__ import annotations

from simrec_node.msgs.regenerate import stale_files


def test_committed_generated_code_is_current() -> None:
    assert stale_files() == [], "run: python -m simrec_node.msgs.regenerate"
