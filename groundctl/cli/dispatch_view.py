"""What `groundctl dispatch listen` shows: one row per hit revision, one line per ack or
station status; every value from the network printed as plain text (never as markup, control
characters replaced), and chips written only under the chips folder."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.style import Style
from rich.table import Table
from rich.text import Text

from groundctl.cli.output import is_terminal, safe_text
from groundctl.dispatch.ids import check_identifier, write_confined
from groundctl.dispatch.inbound import decode_chip, parse_progress, parse_status
from groundctl.dispatch.listener import ListenerEvent
from groundctl.errors import DispatchError

# header, width, key (never dropped), priority (highest dropped first on a narrow terminal)
COLUMNS = (
    ("#", 3, True, 0),
    ("time UTC", 8, False, 4),
    ("operation", 12, True, 0),
    ("hit", 16, True, 0),
    ("class", 8, False, 1),
    ("conf", 4, False, 3),
    ("lat", 11, True, 0),
    ("lon", 12, True, 0),
    ("±m", 4, False, 3),
    ("uav", 3, False, 5),
    ("rev", 3, False, 5),
    ("status", 15, False, 2),
)


def _time(doc: dict[str, Any]) -> str:
    text = str(doc.get("time", ""))
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).strftime("%H:%M:%S")
    except ValueError:
        return safe_text(text[:8])


def save_chip(doc: dict[str, Any], chips_dir: Path) -> Text:
    """Write the hit's chip under `chips_dir` (never elsewhere) and return a link to show.
    `doc` is a hit checked by `inbound.parse_hit`: id and operation are identifiers."""
    if doc.get("chip_url"):
        url = str(doc["chip_url"])
        return Text(safe_text(url, 500), style=Style(link=url))
    data = doc.get("chip_png_base64")
    if not data:
        return Text("-")
    hit_id = check_identifier(doc["id"], "hit id")
    operation = check_identifier(doc["operation"], "operation")
    png = decode_chip(str(data), hit_id)
    name = f"{hit_id}-r{int(doc['revision'])}.png"
    path = write_confined(chips_dir, (operation, name), png)
    return Text(str(path), style=Style(link=path.as_uri()))


class ListenView:
    """What the operator sees: one row per hit revision, one line per ack or status change.
    On a terminal the rows are fitted to its width (least important columns left out, names
    never cut); elsewhere each row is plain text with every column in full."""

    def __init__(self, console: Console, chips_dir: Path, *, terminal: bool | None = None):
        self.console = console
        self.chips_dir = chips_dir
        self.rows: list[str] = []  # row number - 1 -> hit id
        self.terminal = is_terminal() if terminal is None else terminal
        self.keep = list(range(len(COLUMNS)))
        if self.terminal:
            by_priority = sorted(
                (i for i, c in enumerate(COLUMNS) if not c[2]), key=lambda i: -COLUMNS[i][3]
            )
            while self._width() > console.width and by_priority:
                self.keep.remove(by_priority.pop(0))

    def _width(self) -> int:
        return sum(COLUMNS[i][1] + 1 for i in self.keep)

    def _line(self, cells: list[str | Text], bold: bool = False) -> None:
        if not self.terminal:
            parts = [str(c).ljust(COLUMNS[i][1]) for i, c in enumerate(cells)]
            self.console.print(Text("  ".join(parts).rstrip()), soft_wrap=True)
            return
        table = Table(box=None, show_header=False, pad_edge=False, padding=(0, 1, 0, 0))
        for i in self.keep:
            table.add_column(width=COLUMNS[i][1], overflow="fold", style="bold" if bold else "")
        table.add_row(
            *(c if isinstance(c, Text) else Text(c) for c in (cells[i] for i in self.keep))
        )
        self.console.print(table)

    def header(self) -> None:
        self._line([c[0] for c in COLUMNS], bold=True)

    def hit(self, event: ListenerEvent, status: str | None) -> None:
        doc = event.payload
        hit_id = str(doc["id"])
        if hit_id not in self.rows:
            self.rows.append(hit_id)
        try:
            chip = save_chip(doc, self.chips_dir)
        except (DispatchError, OSError) as exc:
            chip = Text(f"not saved: {safe_text(exc)}", style="red")
        vehicle = doc.get("vehicle")
        self._line(
            [
                str(self.rows.index(hit_id) + 1),
                _time(doc),
                str(doc["operation"]),
                hit_id,
                safe_text(doc["class"], 40),
                f"{doc['confidence']:.0%}",
                f"{doc['lat']:.7f}",
                f"{doc['lon']:.7f}",
                f"{doc['uncertainty_m']:.0f}",
                "-" if vehicle is None else str(vehicle),
                str(doc["revision"]),
                status or ("update" if event.update else "new"),
            ]
        )
        self.console.print(Text.assemble("    chip: ", chip), soft_wrap=not self.terminal)

    def ack(self, event: ListenerEvent) -> None:
        ack = event.ack
        assert ack is not None
        who = (
            f"signed with key {ack.identity[4:]}"
            if ack.authorised
            else "unsigned or unknown key: stations do not act on it"
        )
        line = Text("  ")
        line.append("ack", style="cyan")
        line.append(f" {ack.hit_id}: ")
        line.append(ack.status, style="bold")
        line.append(f" by {safe_text(ack.by)} ({who})")
        if ack.note:
            line.append(f" — {safe_text(ack.note)}")
        self.console.print(line)

    def other(self, event: ListenerEvent) -> None:
        try:
            self._other(event)
        except DispatchError as exc:
            self.console.print(Text(f"  ignored a message: {safe_text(exc)}", style="dim"))

    def _other(self, event: ListenerEvent) -> None:
        if event.kind == "status":
            station, state = parse_status(event.payload)
            colour = "green" if state == "online" else "red"
            line = Text(f"  station {safe_text(station)} ({event.operation}): ")
            line.append(state, style=colour)
            self.console.print(line)
        elif event.kind == "connected":
            self.console.print(Text(f"connected to {event.payload.get('url')}", style="green"))
        elif event.kind == "disconnected":
            error = safe_text(event.payload.get("error"))
            self.console.print(
                Text(f"broker connection lost: {error}; reconnecting", style="yellow")
            )
        elif event.kind == "progress":
            covered = parse_progress(event.payload)
            if covered is not None:
                self.console.print(f"  progress ({event.operation}): {covered:.0f} % covered")
