"""What every command prints and writes: tables a pilot can copy and a script can read, one
JSON document with `--json`, output paths checked before the work starts, and progress only
for a person watching.

Adopting it in a command (see `configs list` for a complete example):

    from groundctl.cli import output

    output.check_output_path(out_file, "--output", suffixes=(".json",))  # first of all
    table = output.Table("Cameras", [
        output.Column("name", key=True),          # never cut, never dropped
        output.Column("model", priority=1),       # dropped first when short of room...
        output.Column("fps", priority=2, justify="right"),  # ...the highest priority first
    ])
    table.add_row(cam.name, cam.model, f"{fps:g}")
    output.print_tables([table])                  # terminal: fitted; pipe: plain
    output.emit_json("configs", {"cameras": [...]})   # --json: the one document on stdout
    with output.progress("planning segments", total=n) as advance:
        for ...: advance(1)

Rules they implement:

- Tables never cut a value. On a terminal the table is fitted to the width by dropping the
  least important columns first (highest `priority`; `key=True` columns are never dropped);
  values wrap only if the key columns alone do not fit. A note under the table names the
  columns left out. When stdout is not a terminal (a pipe, a file, CI) there is no box
  drawing and no fitting: one header line and one line per row, every column, full values,
  aligned with two spaces between columns (titles on their own line above).
- `--json` prints exactly one JSON object on stdout, nothing else (messages go to stderr):
  `{"schema": "groundctl.<what>/<version>", ...}`. The version changes only when a field is
  removed or changes meaning; new fields may appear at any time.
- `check_output_path` refuses, before any work, a path that cannot be written: a folder, a
  missing parent folder, no permission, a device or other non-regular file (`/dev/full`),
  a full disk, an unknown suffix; each by a real attempt where one is cheap. It raises
  `OutputPathError`: one line naming the path, exit 2.
- `check_input_file` refuses an input that is not a readable regular file of a sane size
  (a folder, /dev/zero, a missing file) the same way, before any work.
- `progress` shows a bar with count, rate and ETA on stderr when stderr is a terminal, and
  nothing otherwise.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from rich import box
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeRemainingColumn,
)
from rich.table import Table as RichTable
from rich.text import Text

from groundctl.errors import GroundctlError

Justify = Literal["left", "right", "center"]


class OutputPathError(GroundctlError):
    """An output path that cannot be written; the message names the path and the fix."""


class InputPathError(GroundctlError):
    """An input that cannot be read as a file; the message names the path."""


def is_terminal(stream: Any = None) -> bool:
    stream = sys.stdout if stream is None else stream
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def console(*, stderr: bool = False) -> Console:
    """A console for messages: markup and colour on a terminal, plain text elsewhere, never
    highlighting numbers in text it did not write, never wrapped short in a pipe."""
    stream = sys.stderr if stderr else sys.stdout
    if is_terminal(stream):
        return Console(stderr=stderr, highlight=False)
    return Console(stderr=stderr, highlight=False, width=100_000, no_color=True)


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def safe_text(value: Any, limit: int = 200) -> str:
    """Text from outside (the network, a file) made safe to print: control characters (a
    terminal escape sequence could rewrite the screen) shown as '?', at most `limit`
    characters. Print it as `rich.text.Text`, never as markup."""
    text = _CONTROL.sub("?", str(value))
    return text if len(text) <= limit else text[: limit - 1] + "…"


# ---------------------------------------------------------------------- tables


@dataclass(frozen=True)
class Column:
    """`key`: what a user copies (a name, a connection string): never cut, never dropped.
    `priority`: for the others, which go first when room is short (highest first)."""

    header: str
    key: bool = False
    priority: int = 1
    justify: Justify = "left"


@dataclass
class Table:
    title: str | None
    columns: Sequence[Column]
    rows: list[tuple[str, ...]] = field(default_factory=list)
    note: str | None = None  # a line printed under the table

    def add_row(self, *cells: Any) -> None:
        if len(cells) != len(self.columns):
            raise ValueError(f"{len(cells)} cells for {len(self.columns)} columns")
        self.rows.append(tuple("" if c is None else str(c) for c in cells))

    def natural_widths(self) -> list[int]:
        return [
            max([len(col.header)] + [len(r[i]) for r in self.rows])
            for i, col in enumerate(self.columns)
        ]


def plain_lines(table: Table) -> list[str]:
    """The table as plain aligned text: a header line, one line per row, full values."""
    widths = table.natural_widths()
    last = len(widths) - 1

    def line(cells: Sequence[str]) -> str:
        parts = []
        for i, (cell, col) in enumerate(zip(cells, table.columns, strict=True)):
            if col.justify == "right":
                parts.append(cell.rjust(widths[i]))
            else:
                parts.append(cell if i == last else cell.ljust(widths[i]))
        return "  ".join(parts).rstrip()

    out = [table.title] if table.title else []
    out.append(line([c.header for c in table.columns]))
    out.extend(line(r) for r in table.rows)
    if table.note:
        out.append(table.note)
    return out


def _rich(table: Table, keep: list[int], fold: bool) -> RichTable:
    widths = table.natural_widths()
    rt = RichTable(
        title=table.title,
        title_justify="left",
        box=box.SIMPLE_HEAD,
        show_edge=False,
        pad_edge=False,
        padding=(0, 1, 0, 0),
        caption=table.note,
        caption_justify="left",
    )
    for i in keep:
        col = table.columns[i]
        rt.add_column(
            Text(col.header, style="bold"),
            justify=col.justify,
            overflow="fold",
            no_wrap=not fold,
            # A key column keeps its whole width unless even the keys alone do not fit.
            min_width=widths[i] if col.key and not fold else None,
        )
    for row in table.rows:
        rt.add_row(*(Text(row[i]) for i in keep))
    return rt


def fit(table: Table, width: int, con: Console | None = None) -> tuple[RichTable, list[str]]:
    """The rich table for a terminal `width` columns wide, and the headers it left out."""
    con = con or Console(width=width, file=io.StringIO())
    keep = list(range(len(table.columns)))
    dropped: list[str] = []
    order = sorted(
        (i for i, c in enumerate(table.columns) if not c.key),
        key=lambda i: (-table.columns[i].priority, -i),
    )
    while True:
        rt = _rich(table, keep, fold=False)
        # measured without a limit: rich clamps a measurement to the width it is given
        if con.measure(rt, options=con.options.update_width(1 << 20)).maximum <= width:
            return rt, dropped
        if not order:
            return _rich(table, keep, fold=True), dropped
        i = order.pop(0)
        keep.remove(i)
        dropped.append(table.columns[i].header)


def print_tables(tables: Sequence[Table], con: Console | None = None) -> None:
    """Each table fitted to the terminal, or as plain text when stdout is not one."""
    if con is None and not is_terminal():
        for n, table in enumerate(tables):
            if n:
                print()
            print("\n".join(plain_lines(table)))
        return
    con = con or Console(highlight=False)
    for n, table in enumerate(tables):
        if n:
            con.print()
        _print_fitted(con, table)


def _print_fitted(con: Console, table: Table) -> None:
    """`table` fitted to the console's width, saying which columns were left out."""
    rt, dropped = fit(table, con.width, con)
    con.print(rt)
    if dropped:
        con.print(
            Text(f"(not shown for lack of width: {', '.join(dropped)}; pipe or widen)"),
            style="dim",
        )


def show(con: Console, table: Table) -> None:
    """`table` on the console `con` (stdout's or stderr's): fitted when it is a terminal,
    else plain aligned text with full values, one line per row."""
    if con.is_terminal:
        _print_fitted(con, table)
        return
    for line in plain_lines(table):
        con.print(line, markup=False, highlight=False, soft_wrap=True)


# ---------------------------------------------------------------------- JSON


def emit_json(what: str, body: dict[str, Any], version: int = 1) -> None:
    """The one JSON document of a `--json` run, on stdout: `schema` first, then `body`."""
    doc = {"schema": f"groundctl.{what}/{version}", **body}
    sys.stdout.write(json.dumps(doc, indent=2, ensure_ascii=False, allow_nan=False) + "\n")
    sys.stdout.flush()


# ---------------------------------------------------------------------- output paths

MIN_FREE_BYTES = 1 << 20  # less than this free on the disk counts as full


def _free_bytes(folder: Path) -> int | None:
    """Bytes free for us on the disk holding `folder`; None for a pseudo file system."""
    st = os.statvfs(folder)
    return None if st.f_blocks == 0 else st.f_bavail * st.f_frsize


def _probe_folder(folder: Path) -> str | None:
    """Why a new file cannot be made in `folder` (None: it can). A real attempt, so that
    read-only mounts and root's exemptions from permission bits are judged as they are."""
    try:
        fd, name = tempfile.mkstemp(prefix=".groundctl-probe-", dir=folder)
    except OSError as exc:
        return exc.strerror or str(exc)
    os.close(fd)
    with contextlib.suppress(OSError):
        os.unlink(name)
    return None


def check_output_path(
    path: Path,
    option: str,
    *,
    kind: Literal["file", "folder"] = "file",
    suffixes: Sequence[str] | None = None,
    create_parents: bool = False,
    min_free_bytes: int = MIN_FREE_BYTES,
) -> Path:
    """Refuse, before any work, an output path that cannot be written (see the module
    docstring); returns `path`. A missing parent folder is refused unless `create_parents`,
    which makes it now. A folder output (`kind="folder"`) is made if missing."""

    try:
        return _check_output_path(
            Path(path), option, kind, suffixes, create_parents, min_free_bytes
        )
    except OSError as exc:  # a name too long, a loop of symlinks, ...
        raise OutputPathError(f"{option} {path}: {exc.strerror or exc}") from None


def _check_output_path(
    path: Path,
    option: str,
    kind: Literal["file", "folder"],
    suffixes: Sequence[str] | None,
    create_parents: bool,
    min_free_bytes: int,
) -> Path:
    def fail(reason: str) -> OutputPathError:
        return OutputPathError(f"{option} {path}: {reason}")

    if kind == "file" and (path.is_dir() or str(path).endswith(os.sep)):
        example = path / ("out" + (suffixes[0] if suffixes else ""))
        raise fail(f"is a folder; give a file name, e.g. {example}")
    if kind == "folder" and path.exists() and not path.is_dir():
        raise fail("is a file, not a folder; give a folder (it is made if missing)")
    if kind == "file" and (path.exists() or path.is_symlink()):
        if str(path) == os.devnull and suffixes is None:
            return path  # "throw it away" is a fine answer where any content goes
        if not path.is_file():
            raise fail("is not a regular file (a device, pipe or socket); give a file name")
    if kind == "file" and suffixes is not None and path.suffix.lower() not in suffixes:
        got = f"'{path.suffix}'" if path.suffix else "no suffix"
        raise fail(f"unknown file type ({got}); give a name ending in {', '.join(suffixes)}")
    folder = path if kind == "folder" else path.parent
    if not folder.exists():
        if not (create_parents or kind == "folder"):
            raise fail(f"the folder {folder} does not exist; create it first: mkdir -p {folder}")
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise fail(f"cannot make the folder {folder}: {exc.strerror or exc}") from None
    if not folder.is_dir():
        raise fail(f"{folder} is not a folder")
    why = _probe_folder(folder)
    if why is not None:
        raise fail(f"cannot write in {folder}: {why}")
    if kind == "file" and path.exists():
        try:
            with open(path, "ab"):
                pass
        except OSError as exc:
            raise fail(f"cannot overwrite it: {exc.strerror or exc}") from None
    with contextlib.suppress(OSError):
        free = _free_bytes(folder)
        if free is not None and free < min_free_bytes:
            raise fail(f"the disk is full ({free // 1024} KiB free in {folder}); free some space")
    return path


def check_input_file(path: Path, option: str, *, max_bytes: int = 64 << 20) -> Path:
    """Refuse, before any work, an input that is not a readable regular file of a sane size
    (a folder, a device such as /dev/zero, a missing file): one line, exit 2."""
    try:
        if not path.exists():
            raise InputPathError(f"{option} {path}: no such file")
        if not path.is_file():
            raise InputPathError(f"{option} {path}: not a file (a folder or a device)")
        size = path.stat().st_size
        with open(path, "rb"):
            pass
    except OSError as exc:
        raise InputPathError(f"{option} {path}: cannot read: {exc.strerror or exc}") from None
    if size > max_bytes:
        raise InputPathError(f"{option} {path}: {size >> 20} MB is more than {max_bytes >> 20} MB")
    return path


@contextmanager
def writing(path: Path, option: str) -> Iterator[None]:
    """Turn an OSError while writing `path` (the disk filled up meanwhile, the folder was
    removed) into the same one-line error as `check_output_path`."""
    try:
        yield
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise OutputPathError(f"{option} {path}: cannot write: {reason}") from None


# ---------------------------------------------------------------------- progress


class RateColumn(ProgressColumn):
    """Items per second (rich's own speed column is for bytes)."""

    def __init__(self, unit: str) -> None:
        super().__init__()
        self.unit = unit

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text("" if speed is None else f"{speed:,.1f} {self.unit}/s", style="cyan")


@contextmanager
def progress(
    description: str, total: float | None = None, *, unit: str = "items"
) -> Iterator[Callable[[float], None]]:
    """`advance(n)` inside the block moves a bar (count, rate, ETA) drawn on stderr when
    stderr is a terminal; elsewhere `advance` does nothing and nothing is printed."""
    if not is_terminal(sys.stderr):
        yield lambda n=1: None
        return
    bar = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        RateColumn(unit),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=True,
    )
    with bar:
        task = bar.add_task(description, total=total)
        yield lambda n=1: bar.advance(task, n)
