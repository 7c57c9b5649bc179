"""Time and battery of one drone: the pace of its clock, its drain, its way home. Pure parts
are functions; `EnergyMixin` applies them to the orchestrator's drones.

The planner's model is the reference (missions/ and configs/airframes.yaml): a flight of T
seconds uses T / endurance of the battery, and a sortie needs that plus the airframe's
reserve. In flight the drain is measured, and the way home is timed with the speeds the
vehicle itself flies at (PX4: MPC_XY_CRUISE, MPC_Z_V_AUTO_DN, MPC_LAND_SPEED; ArduPilot:
RTL_SPEED / WPNAV_SPEED, WPNAV_SPEED_DN, LAND_SPEED), read from it once, else the catalogue's.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from dataclasses import dataclass

from groundctl.config import AirframeConfig
from groundctl.errors import LinkError
from groundctl.fleet import assign
from groundctl.fleet.flight import RETURN_MARGIN_PCT
from groundctl.fleet.parts import Parts
from groundctl.link import Autopilot, Vehicle, VehicleState

# Below this height a landing slows to the land speed (PX4 MPC_LAND_ALT1's default).
SLOW_LAND_BELOW_M = 10.0


@dataclass(frozen=True)
class Speeds:
    """How fast a drone flies home and comes down, m/s."""

    cruise_ms: float
    descent_ms: float
    land_ms: float
    source: str = "catalogue"


def catalogue_speeds(af: AirframeConfig) -> Speeds:
    return Speeds(af.cruise_speed_ms, af.descent_rate_ms, min(af.descent_rate_ms, 1.0))


async def vehicle_speeds(v: Vehicle, af: AirframeConfig) -> Speeds:
    """The speeds the autopilot will use for a return, from its parameters (best effort)."""
    base = catalogue_speeds(af)

    async def get(name: str, scale: float = 1.0) -> float | None:
        # A parameter this autopilot lacks is asked for six times: give each a few seconds.
        with contextlib.suppress(LinkError, TimeoutError):
            async with asyncio.timeout(3.0):
                value = await v.params.get(name) * scale
            return value if value > 0 else None
        return None

    if v.identity.autopilot == Autopilot.ARDUPILOT:
        cruise = await get("RTL_SPEED", 0.01) or await get("WPNAV_SPEED", 0.01)
        down = await get("WPNAV_SPEED_DN", 0.01)
        land = await get("LAND_SPEED", 0.01)
    else:
        cruise = await get("MPC_XY_CRUISE")
        down = await get("MPC_Z_V_AUTO_DN")
        land = await get("MPC_LAND_SPEED")
    if cruise is None and down is None and land is None:
        return base
    return Speeds(
        cruise or base.cruise_ms, down or base.descent_ms, land or base.land_ms, "vehicle"
    )


def return_time_s(distance_m: float, alt_rel_m: float, speeds: Speeds) -> float:
    """Vehicle seconds to fly `distance_m` home and land from `alt_rel_m`."""
    alt = max(alt_rel_m, 0.0)
    slow = min(alt, SLOW_LAND_BELOW_M)
    return distance_m / speeds.cruise_ms + (alt - slow) / speeds.descent_ms + slow / speeds.land_ms


def battery_needed_pct(flight_s: float, af: AirframeConfig) -> float:
    """The planner's model: a flight of `flight_s` plus the airframe's reserve, in percent."""
    return flight_s / (af.endurance_min * 60.0) * 100.0 + af.battery_reserve_pct


class EnergyMixin(Parts):
    """Pace, drain and the battery left to turn home with, for `Orchestrator`."""

    _uptime_hist: dict[str, deque[tuple[float, int]]]
    _battery_hist: dict[str, deque[tuple[float, float]]]
    _speeds: dict[str, Speeds]
    time_scale: float

    def wall(self, sim_s: float) -> float:
        """Wall seconds for `sim_s` seconds of flight, at the measured pace of the vehicles."""
        return sim_s / self.pace()

    def pace(self) -> float:
        """Vehicle seconds per wall second, from the autopilots' own boot clocks (1 for real
        drones; a loaded simulator runs slower than its nominal speed-up, and this sees it)."""
        rates = []
        for hist in self._uptime_hist.values():
            if len(hist) >= 2 and hist[-1][0] - hist[0][0] >= 2.0:
                rates.append((hist[-1][1] - hist[0][1]) / 1000.0 / (hist[-1][0] - hist[0][0]))
        if not rates:
            return self.time_scale
        rates.sort()
        return max(0.05, rates[len(rates) // 2])

    def _track_clocks(self, name: str, st: VehicleState) -> None:
        """Fold a snapshot into the boot-clock and battery histories."""
        now = time.monotonic()
        if st.uptime_ms and st.link_ok:
            up = self._uptime_hist[name]
            if up and st.uptime_ms < up[-1][1]:
                up.clear()  # the autopilot rebooted
            if not up or st.uptime_ms != up[-1][1]:
                up.append((now, st.uptime_ms))
            while len(up) > 2 and up[-1][0] - up[0][0] > 10.0:
                up.popleft()
        if st.battery is not None and st.battery.remaining_pct is not None:
            pct = st.battery.remaining_pct
            hist = self._battery_hist[name]
            if hist and abs(hist[-1][1] - pct) > 5.0:
                hist.clear()  # a swap or a jump in the estimate: the old slope means nothing
            if not hist or hist[-1][1] != pct:
                hist.append((now, pct))

    def drain_pct_per_s(self, name: str) -> float:
        """Battery drain in % per wall second: measured over the last samples of this flight,
        else the airframe's nominal figure."""
        nominal = 100.0 / self.wall(self.airframe(name).endurance_min * 60.0)
        hist = list(self._battery_hist[name])
        if len(hist) >= 3 and hist[-1][0] - hist[0][0] > 1.0 and hist[0][1] > hist[-1][1]:
            return max(nominal * 0.5, (hist[0][1] - hist[-1][1]) / (hist[-1][0] - hist[0][0]))
        return nominal

    def speeds(self, name: str) -> Speeds:
        return self._speeds.get(name) or catalogue_speeds(self.airframe(name))

    def return_s(self, name: str, st: VehicleState) -> float:
        """Wall seconds to fly home and land from where the drone is."""
        if st.position is None:
            return 0.0
        home = (st.home.lat, st.home.lon) if st.home else self.launch_of(name)
        d = assign.distance_m((st.position.lat, st.position.lon), home)
        return self.wall(return_time_s(d, st.position.alt_rel_m, self.speeds(name)))

    def leave_threshold_pct(self, name: str, st: VehicleState) -> float:
        """Battery at which the drone must turn for home: its reserve, or the flight home (at
        the measured drain, with the vehicle's own speeds) plus a margin if that is more.

        The reserve is what the planner keeps for the return and landing (a planned sortie is
        sized so that its lanes end with the reserve plus the way home left), so a sortie that
        drains as planned never hits this before its last lane; one that drains faster, or is
        further from home than planned, does."""
        af = self.airframe(name)
        home = self.return_s(name, st) * self.drain_pct_per_s(name) + RETURN_MARGIN_PCT
        return max(af.battery_reserve_pct, home)

    def sortie_need_pct(self, name: str, flight_s: float) -> float:
        """Battery a sortie of `flight_s` (vehicle seconds, take-off to landing) needs."""
        return battery_needed_pct(flight_s, self.airframe(name))
