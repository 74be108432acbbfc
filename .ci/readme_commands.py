"""The README's two first-screen commands (the demo recording, then the tests), read out of README.md.

`.ci/run` runs exactly what this prints, and tests/test_readme_commands.py checks the same
reading, so the README, CI and the tests cannot drift apart.

    python3 .ci/readme_commands.py demo    # prints the first command
    python3 .ci/readme_commands.py tests   # prints the second
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"
NAMES = ("demo", "tests")
_FENCE = re.compile(r"^```(?:bash|sh|console)?\n(.*?)^```", re.MULTILINE | re.DOTALL)


def first_screen(text: str) -> str:
    """The README up to its first horizontal rule (``---``): what a new user reads first."""
    head, rule, _ = text.partition("\n---\n")
    if not rule:
        raise ValueError("README.md has no '---' rule closing its first screen")
    return head


def readme_commands(text: str | None = None) -> dict[str, str]:
    """``{"demo": ..., "tests": ...}``: the first screen's two fenced one-line commands, in order."""
    text = README.read_text(encoding="utf-8") if text is None else text
    blocks = [block.strip() for block in _FENCE.findall(first_screen(text))]
    if len(blocks) != 2 or any("\n" in block for block in blocks):
        raise ValueError(f"expected two one-line fenced commands on README.md's first screen, got {blocks!r}")
    return dict(zip(NAMES, blocks, strict=True))


def main(argv: list[str]) -> int:
    if len(argv) != 1 or argv[0] not in NAMES:
        print(f"usage: readme_commands.py {'|'.join(NAMES)}", file=sys.stderr)
        return 2
    try:
        print(readme_commands()[argv[0]])
    except ValueError as exc:
        print(f"readme_commands.py: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
