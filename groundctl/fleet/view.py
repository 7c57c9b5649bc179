"""The live terminal view of a flying fleet: one row per drone (rich)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence

from rich.console import Group
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


def fleet_table(
    views: Iterable[DroneView],
    swept_fraction: float,
    title: str = "",
    cameras: Mapping[str, str] | None = None,
    footer: Sequence[str] = (),
) -> Group:
    """The fleet table; `cameras` (drone -> stream summary) adds a camera column, `footer`
    lines (the last hit, dispatch state) go under the progress bar."""
    table = Table(title=title or None, expand=False)
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
    views = list(views)
    widest = max((len(v.name) for v in views), default=5)
    for col in cols:
        # The drone's name is never cut; the others give way (or wrap: the note) first.
        table.add_column(col, no_wrap=col != "note", min_width=widest if col == "drone" else None)
    for v in views:
        frac = v.lanes_swept / v.lanes_total if v.lanes_total else 0.0
        filled = round(frac * 12)
        bar = Text.assemble(
            ("━" * filled, "green"),
            ("━" * (12 - filled), "grey37"),
            f" {v.lanes_swept}/{v.lanes_total} lanes",
        )
        cells: list[str | Text] = [
            v.name,
            str(v.sysid or ""),
            Text(v.phase, style=PHASE_STYLE.get(v.phase, "")),
            v.mode,
            battery(v),
            v.job,
            bar,
            link_quality(v),
            str(v.hits),
            f"{v.transit_alt_m:.0f} m",
            v.note,
        ]
        if cameras is not None:
            cells.insert(cols.index("camera"), camera_cell(cameras.get(v.name, "-")))
        table.add_row(*cells)
    filled = round(swept_fraction * 40)
    overall = Text.assemble(
        (f"area swept: {swept_fraction * 100:3.0f}% ", "bold"),
        ("━" * filled, "green"),
        ("━" * (40 - filled), "grey37"),
    )
    return Group(table, overall, *(Text(line) for line in footer))
