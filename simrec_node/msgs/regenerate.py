"""Regenerate the committed protobuf code from ``schemas/``.

Run ``python -m simrec_node.msgs.regenerate`` after editing a ``.proto`` file; the test
suite fails while the committed code is stale. Needs the ``test`` extra (grpcio-tools).
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
SCHEMA_DIR = REPO_ROOT / "schemas"
OUTPUT_DIR = Path(__file__).resolve().parent
# protoc writes `from simrec import x_pb2`; the code lives under simrec_node.msgs.simrec.
_IMPORT_FIX = re.compile(r"^from simrec import ", re.MULTILINE)


def generate(out_dir: Path) -> list[Path]:
    """Write ``*_pb2.py`` for every schema under ``out_dir/simrec`` and return their paths."""
    import grpc_tools
    from grpc_tools import protoc  # a test/dev dependency only

    protos = sorted(p.relative_to(SCHEMA_DIR).as_posix() for p in SCHEMA_DIR.rglob("*.proto"))
    include = Path(grpc_tools.__file__).parent / "_proto"
    args = ["protoc", f"-I{SCHEMA_DIR}", f"-I{include}", f"--python_out={out_dir}", *protos]
    if protoc.main(args) != 0:
        raise SystemExit("protoc failed on schemas/: fix the .proto error above")
    written = sorted((out_dir / "simrec").glob("*_pb2.py"))
    for path in written:
        path.write_text(_IMPORT_FIX.sub("from simrec_node.msgs.simrec import ", path.read_text()))
    (out_dir / "simrec" / "__init__.py").write_text(
        '"""Code generated from schemas/simrec by simrec_node.msgs.regenerate."""\n'
    )
    return written


def stale_files() -> list[str]:
    """Names of generated files that differ from what the schemas produce now."""
    with tempfile.TemporaryDirectory() as tmp:
        fresh_dir = Path(tmp) / "simrec"
        generate(Path(tmp))
        committed_dir = OUTPUT_DIR / "simrec"
        names = {p.name for p in fresh_dir.glob("*.py")} | {p.name for p in committed_dir.glob("*.py")}
        return sorted(
            name
            for name in names
            if not (committed_dir / name).exists()
            or not (fresh_dir / name).exists()
            or (committed_dir / name).read_text() != (fresh_dir / name).read_text()
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report stale files; exit 1 if any")
    if parser.parse_args().check:
        stale = stale_files()
        if stale:
            sys.exit(f"stale generated code: {', '.join(stale)}; run python -m simrec_node.msgs.regenerate")
        return
    for path in generate(OUTPUT_DIR):
        print(f"wrote {path.relative_to(REPO_ROOT)}")


if __name__ == "__main__":
    main()
