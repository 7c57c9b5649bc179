"""Identifiers from the network, and the only way a path is built from them.

Every field of a message that arrives over MQTT (or any other wire) is written by whoever can
publish: an operation named `/tmp/pwn` or a hit id `../../x` must never choose where a file
goes. So an identifier is checked against one strict pattern before it is used for anything
but display, and every path built from identifiers is resolved and must stay under its root.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from groundctl.errors import DispatchError
from groundctl.store.models import IDENTIFIER

__all__ = ["IDENTIFIER", "check_identifier", "confined", "is_identifier", "write_confined"]

# IDENTIFIER: letters, digits, `_`, `.`, `@` and `-`; starts with a letter, digit or `_` (so
# never `.` or `..`, never a hidden file); at most 128 characters. Hit ids (`hit-3f2a...`),
# operation names (`valley-2026-11-23`), desk names (`desk-1`, `anna@centre`) all fit.
IDENTIFIER_HELP = (
    "1 to 128 letters, digits, '_', '.', '@' or '-', starting with a letter, digit or '_'"
)


def is_identifier(value: Any) -> bool:
    return isinstance(value, str) and IDENTIFIER.fullmatch(value) is not None


def check_identifier(value: Any, what: str) -> str:
    """`value` if it is a safe identifier; else a DispatchError naming `what`."""
    if not is_identifier(value):
        shown = repr(value) if len(repr(value)) <= 60 else repr(value)[:57] + "..."
        raise DispatchError(f"{what} {shown} is not an identifier ({IDENTIFIER_HELP})")
    return value


def confined(root: Path, *parts: str) -> Path:
    """`root/parts...`, each part a checked identifier (file names may add a suffix after
    it), resolved; refused unless it stays inside `root` (a symlinked folder that points
    elsewhere is refused too)."""
    base = root.resolve()
    path = base.joinpath(*parts).resolve()
    if not path.is_relative_to(base) or path == base:
        raise DispatchError(f"refused to write {path}: outside {base}")
    return path


def write_confined(root: Path, parts: tuple[str, ...], data: bytes) -> Path:
    """Write `data` to `confined(root, *parts)`, creating folders below `root` only; the file
    itself is never followed if it is a symlink (O_NOFOLLOW). Returns the path written."""
    path = confined(root, *parts)
    path.parent.mkdir(parents=True, exist_ok=True)
    # The folders just made may have been swapped for a symlink meanwhile: check again.
    path = confined(root, *parts)
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(path, flags, 0o644)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    return path
