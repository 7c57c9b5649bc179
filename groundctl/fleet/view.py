"""The live terminal view of a flying fleet: one row per drone (rich)."""

from __future__ import annotations

import io
import math
from collections.abc import Iterable, Mapping, Sequence

from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from groundctl.fleet.orchestrator import DroneView

PHASE_STYLE = {
    "search": "green",
    "overwatch": "bold magenta",
    "to target": "magenta",
    "return": "yellow",
    "battery swap": "cyan",
    "LOST": "bold red",
    "done": "dim",
}


def link_quality(view: DroneView) -> Text:
    if not view.link_ok or math.isinf(view.heartbeat_age_s):
        return Text("lost", style="bold red")
    age = view.heartbeat_age_s
    style = "green" if age < 1.5 else "yellow" if age < 3 else "red"
    return Text(f"ok {age:.1f}s", style=style)


def battery(view: DroneView) -> Text:
    if view.battery_pct is None:
        return Text("?", style="dim")
    pct = view.battery_pct
    style = "green" if pct > 50 else "yellow" if pct > 30 else "bold red"
    return Text(f"{pct:.0f}%", style=style)


def camera_cell(summary: str) -> Text:
    style = "green" if summary.startswith("live") else "yellow"
    if "bad" in summary or "dropped" in summary:
        style = "yellow"
    return Text(summary, style=style)


# What a narrow terminal loses first, in this order ("bar": the segment's progress bar, its
# lane count stays); the drone's name, phase and lanes are never dropped.
DROP_ORDER = ("alt", "sysid", "note", "mode", "sortie", "camera", "bar", "hits", "battery", "link")


def fleet_table(
    views: Iterable[DroneView],
    swept_fraction: float,
    title: str = "",
    cameras: Mapping[str, str] | None = None,
    footer: Sequence[str] = (),
    width: int | None = None,
) -> Group:
    """The fleet table; `cameras` (drone -> stream summary) adds a camera column, `footer`
    lines (the last hit, dispatch state) go under the progress bar. Given the terminal's
    `width`, the least important columns (`DROP_ORDER`) are left out until it fits, and a
    line says which."""
    views = list(views)
    cols = [
        "drone",
        "sysid",
        "phase",
        "mode",
        "battery",
        "sortie",
        "segment",
        "link",
        "hits",
        "alt",
        "note",
    ]
    if cameras is not None:
        cols.insert(cols.index("hits"), "camera")
    dropped: list[str] = []
    bar = True
    table = _table(views, cols, title, cameras, bar)
    measure = Console(width=1 << 20, file=io.StringIO())
    for col in DROP_ORDER:
        if width is None or measure.measure(table).maximum <= width:
            break
        if col == "bar":
            bar = False
        elif col in cols:
            cols.remove(col)
            dropped.append(col)
        table = _table(views, cols, title, cameras, bar)
    filled = round(swept_fraction * 40)
    overall = Text.assemble(
        (f"area swept: {swept_fraction * 100:3.0f}% ", "bold"),
        ("━" * filled, "green"),
        ("━" * (40 - filled), "grey37"),
    )
    lines = [Text(line) for line in footer]
    if dropped:
        note = f"(not shown for lack of width: {', '.join(dropped)}; widen the terminal)"
        lines.insert(0, Text(note, style="dim"))
    return Group(table, overall, *lines)


def _table(
    views: Sequence[DroneView],
    cols: Sequence[str],
    title: str,
    cameras: Mapping[str, str] | None,
    with_bar: bool = True,
) -> Table:
    table = Table(title=title or None, expand=False)
    widest = max((len(v.name) for v in views), default=5)
    for col in cols:
        # The drone's name is never cut; the others give way (or wrap: the note) first.
        table.add_column(col, no_wrap=col != "note", min_width=widest if col == "drone" else None)
    for v in views:
        frac = v.lanes_swept / v.lanes_total if v.lanes_total else 0.0
        filled = round(frac * 12)
        bar = Text.assemble(
            ("━" * filled, "green") if with_bar else "",
            ("━" * (12 - filled) + " ", "grey37") if with_bar else "",
            f"{v.lanes_swept}/{v.lanes_total} lanes",
        )
        cells: dict[str, str | Text] = {
            "drone": v.name,
            "sysid": str(v.sysid or ""),
            "phase": Text(v.phase, style=PHASE_STYLE.get(v.phase, "")),
            "mode": v.mode,
            "battery": battery(v),
            "sortie": v.job,
            "segment": bar,
            "link": link_quality(v),
            "camera": camera_cell(cameras.get(v.name, "-")) if cameras is not None else "",
            "hits": str(v.hits),
            "alt": f"{v.transit_alt_m:.0f} m",
            "note": v.note,
        }
        table.add_row(*(cells[c] for c in cols))
    return table
