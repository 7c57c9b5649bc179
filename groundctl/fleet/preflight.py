"""Pre-flight checks and the go/no-go table. Evaluation is pure; the table is rich.

Each drone gets the same checks: link alive, GPS 3D fix with enough satellites, home set,
battery enough for its sortie (from the airframe's endurance and reserve), geofence uploaded.
One failed check is a no-go for that drone; the others still fly.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rich.table import Table

from groundctl.config import AirframeConfig

MIN_SATELLITES = 6
MAX_HEARTBEAT_AGE_S = 3.0


@dataclass(frozen=True)
class PreflightState:
    """What the ground station knows about one drone right before launch."""

    name: str
    link_ok: bool
    heartbeat_age_s: float | None
    gps_fix_type: int  # GPS_FIX_TYPE: 3 = 3D fix, 4+ = DGPS/RTK
    satellites: int
    home_set: bool
    battery_pct: float | None
    battery_needed_pct: float
    fence_uploaded: bool


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


def battery_needed_pct(flight_s: float, airframe: AirframeConfig) -> float:
    """Battery a flight of `flight_s` uses, plus the airframe's reserve, in percent."""
    return flight_s / (airframe.endurance_min * 60.0) * 100.0 + airframe.battery_reserve_pct


def evaluate(s: PreflightState) -> tuple[Check, ...]:
    hb = s.heartbeat_age_s
    link = Check(
        "link",
        s.link_ok and hb is not None and hb <= MAX_HEARTBEAT_AGE_S,
        "no heartbeat" if hb is None else f"heartbeat {hb:.1f} s ago",
    )
    gps_ok = s.gps_fix_type >= 3 and s.satellites >= MIN_SATELLITES
    fix = {0: "no GPS", 1: "no fix", 2: "2D fix", 3: "3D fix", 4: "DGPS", 5: "RTK float"}
    gps = Check(
        "gps",
        gps_ok,
        f"{fix.get(s.gps_fix_type, 'RTK fixed')}, {s.satellites} sats"
        + ("" if gps_ok else f" (need 3D fix and {MIN_SATELLITES}+)"),
    )
    home = Check("home", s.home_set, "set" if s.home_set else "no home position yet")
    if s.battery_pct is None:
        bat = Check("battery", False, "battery not reported")
    else:
        ok = s.battery_pct >= s.battery_needed_pct
        bat = Check(
            "battery",
            ok,
            f"{s.battery_pct:.0f}% (sortie needs {s.battery_needed_pct:.0f}%)"
            + ("" if ok else "; swap the battery or shorten the sortie"),
        )
    fence = Check("geofence", s.fence_uploaded, "uploaded" if s.fence_uploaded else "not uploaded")
    return (link, gps, home, bat, fence)


def is_go(checks: Sequence[Check]) -> bool:
    return all(c.ok for c in checks)


def go_no_go_table(results: dict[str, tuple[Check, ...]]) -> Table:
    """One row per drone, one column per check, and the verdict."""
    names = [c.name for c in next(iter(results.values()), ())]
    table = Table(title="Pre-flight: go / no-go")
    # The name is what a pilot reads and copies: never wrapped or cut on a narrow terminal.
    widest = max((len(d) for d in results), default=5)
    table.add_column("drone", style="bold", no_wrap=True, min_width=widest)
    for n in names:
        table.add_column(n)
    table.add_column("verdict", style="bold", no_wrap=True, min_width=5)
    for drone, checks in results.items():
        cells = [f"[green]✔[/] {c.detail}" if c.ok else f"[red]✘ {c.detail}[/]" for c in checks]
        verdict = "[green]GO[/]" if is_go(checks) else "[red]NO-GO[/]"
        table.add_row(drone, *cells, verdict)
    return table
