"""``$(...)`` substitutions of the ROS 2 launch format: ``var``, ``env``, ``dirname``, ``find-exec``.

Substitutions nest (``$(env ROBOT $(var default_robot))``) and arguments may be quoted with
single quotes. Anything else is kept as written.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from .errors import at

_START = "$("


@dataclass
class SubstitutionContext:
    """What a substitution can see: the launch configurations in scope and the current file."""

    variables: dict[str, str]
    file: Path


def substitute(text: str, context: SubstitutionContext, where: str | None = None) -> str:
    """``text`` with every ``$(...)`` replaced; ``LaunchError`` (with ``where``) for bad ones."""
    if _START not in text:
        return text
    parser = _Parser(text, context, where)
    return parser.expand()


class _Parser:
    def __init__(self, text: str, context: SubstitutionContext, where: str | None) -> None:
        self.text, self.context, self.where, self.pos = text, context, where, 0

    def expand(self) -> str:
        out = []
        while self.pos < len(self.text):
            if self.text.startswith(_START, self.pos):
                out.append(self._substitution())
            else:
                out.append(self.text[self.pos])
                self.pos += 1
        return "".join(out)

    def _substitution(self) -> str:
        start = self.pos
        self.pos += len(_START)
        words: list[str] = []
        while True:
            while self.pos < len(self.text) and self.text[self.pos].isspace():
                self.pos += 1
            if self.pos >= len(self.text):
                raise at(self.where, f"unterminated substitution {self.text[start:]!r}: missing ')'")
            if self.text[self.pos] == ")":
                self.pos += 1
                return self._apply(words, self.text[start : self.pos])
            words.append(self._word())

    def _word(self) -> str:
        out = []
        while self.pos < len(self.text):
            char = self.text[self.pos]
            if char.isspace() or char == ")":
                break
            if self.text.startswith(_START, self.pos):
                out.append(self._substitution())
            elif char == "'":
                end = self.text.find("'", self.pos + 1)
                if end < 0:
                    raise at(self.where, f"unterminated quote in {self.text!r}")
                out.append(self.text[self.pos + 1 : end])
                self.pos = end + 1
            else:
                out.append(char)
                self.pos += 1
        return "".join(out)

    def _apply(self, words: list[str], source: str) -> str:
        kind, args = (words[0], words[1:]) if words else ("", [])
        if kind == "var" and len(args) == 1:
            if args[0] not in self.context.variables:
                known = ", ".join(sorted(self.context.variables)) or "none"
                raise at(
                    self.where,
                    f"{source}: undefined variable {args[0]!r} "
                    f"(declare it with 'arg' or 'let'; defined: {known})",
                )
            return self.context.variables[args[0]]
        if kind == "env" and len(args) in (1, 2):
            value = os.environ.get(args[0], args[1] if len(args) == 2 else None)
            if value is None:
                raise at(
                    self.where, f"{source}: environment variable {args[0]!r} is not set (give a default)"
                )
            return value
        if kind == "dirname" and not args:
            return str(self.context.file.parent)
        if kind == "find-exec" and len(args) == 1:
            found = shutil.which(args[0])
            if found is None:
                raise at(self.where, f"{source}: no executable {args[0]!r} on PATH")
            return found
        raise at(
            self.where,
            f"unknown substitution {source!r}; use $(var NAME), $(env NAME [DEFAULT]), $(dirname) "
            "or $(find-exec NAME)",
        )
