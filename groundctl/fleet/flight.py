"""Small facts about a vehicle in flight, shared by the search and overwatch flows."""

from __future__ import annotations

from typing import Any

from groundctl.link import MissionItem, Vehicle, VehicleState
from groundctl.link.types import same_items

# Extra battery kept on top of reserve + flight home, for wind and estimate error.
RETURN_MARGIN_PCT = 3.0
# A drone on the ground needs this long (vehicle seconds) for checks, arming and the take-off
# command, plus command round trips that do not speed up in a simulator (wall seconds).
LAUNCH_S = 20.0
LAUNCH_WALL_S = 2.0


def airborne(st: VehicleState) -> bool:
    """In the air, by the landed state or (before EXTENDED_SYS_STATE is heard) by being
    armed above the ground."""
    if st.in_air:
        return True
    return st.armed and st.position is not None and st.position.alt_rel_m > 2.0


def whereabouts(st: VehicleState) -> dict[str, Any] | None:
    """Where the drone is and how it fares, as the track log and the dispatch sinks record
    it; None while it has no position or no link."""
    p = st.position
    if p is None or not st.link_ok:
        return None
    return {
        "lat": p.lat,
        "lon": p.lon,
        "alt_amsl_m": p.alt_amsl_m,
        "alt_rel_m": p.alt_rel_m,
        "heading_deg": p.heading_deg,
        "speed_ms": p.ground_speed_ms,
        "battery_pct": st.battery.remaining_pct if st.battery else None,
    }


async def holds(v: Vehicle, items: list[MissionItem]) -> bool:
    """Does the vehicle hold exactly this mission? `matches`, confirmed by a download when it
    says no: on ArduPilot `matches` compares MISSION_CURRENT.total (which counts home) with
    our item count and so answers no for the very mission on board."""
    if await v.mission.matches(items):
        return True
    return same_items(await v.mission.download(), items)


class DroneLost(Exception):
    """The drone's link stayed lost past the limit, or it stopped flying mid-air."""
