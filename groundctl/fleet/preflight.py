"""Pre-flight checks and the go/no-go table. Evaluation is pure; the table is rich.

Each drone gets the same checks: link alive, GPS 3D fix with enough satellites, home set,
battery enough for its sortie (from the airframe's endurance and reserve), geofence uploaded,
and the plan within reach of its home (half the airframe's range on one battery). One failed
check is a no-go for that drone; the others still fly. `fly` refuses a plan out of reach of
every drone outright (a swapped latitude/longitude puts it on another continent).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from rich.table import Table

from groundctl.config import AirframeConfig
from missions.geodesy import geodesic_distance_m
from missions.plan import Plan

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
    plan_distance_m: float | None = None  # home to the plan's nearest point (None: no home)
    reach_m: float = math.inf  # how far from home the drone can go and come back


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


def battery_needed_pct(flight_s: float, airframe: AirframeConfig) -> float:
    """Battery a flight of `flight_s` uses, plus the airframe's reserve, in percent."""
    return flight_s / (airframe.endurance_min * 60.0) * 100.0 + airframe.battery_reserve_pct


def reach_m(airframe: AirframeConfig) -> float:
    """How far from home a drone can fly and still come back: half its range on one battery."""
    return airframe.usable_endurance_s * airframe.cruise_speed_ms / 2.0


def plan_points(plan: Plan) -> tuple[np.ndarray, np.ndarray]:
    """Every waypoint of the plan (what a drone flies to), as (lats, lons)."""
    pts = [(w.lat, w.lon) for seg in plan.segments for so in seg.sorties for w in so.waypoints]
    arr = np.asarray(pts, dtype=float).reshape(-1, 2)
    return arr[:, 0], arr[:, 1]


def nearest_m(home: tuple[float, float], lats: Iterable[float], lons: Iterable[float]) -> float:
    """Geodesic distance from `home` (lat, lon) to the nearest of the points."""
    la, lo = np.asarray(list(lats), dtype=float), np.asarray(list(lons), dtype=float)
    if la.size == 0:
        return 0.0
    here_lat, here_lon = np.full(la.size, home[0]), np.full(la.size, home[1])
    return float(np.min(geodesic_distance_m(here_lat, here_lon, la, lo)))


def fmt_km(m: float) -> str:
    return f"{m / 1000:,.1f} km" if m < 100_000 else f"{m / 1000:,.0f} km"


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
    d = s.plan_distance_m
    reach = Check(
        "reach",
        d is None or d <= s.reach_m,  # no home: the home check says so
        "-"
        if d is None
        else f"plan {fmt_km(d)} from home"
        + ("" if d <= s.reach_m else f" (reach {fmt_km(s.reach_m)})"),
    )
    return (link, gps, home, bat, fence, reach)


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
