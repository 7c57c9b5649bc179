"""On the ground, up to the take-off: battery, uploads, pre-flight, arming. `LaunchMixin` is
part of `Orchestrator`.

A drone is launched only with a battery that completes the sortie (the planner's model plus
the reserve): short of it, the battery is swapped first. On the simulator the swap takes the
fleet's `battery_swap_s`; on a real drone the crew swaps it, and the drone stays down until it
reports a battery good enough (one line on the terminal says so).
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable
from typing import Any

from groundctl.errors import LinkError
from groundctl.fleet import preflight
from groundctl.fleet.energy import Speeds, vehicle_speeds
from groundctl.fleet.flight import DroneLost, airborne
from groundctl.fleet.parts import Parts
from groundctl.fleet.sortie import Job
from groundctl.link import Autopilot, FlightMode, MissionType, Vehicle, coerce_items
from groundctl.link import mission_hash as content_hash

BatterySwap = Callable[[str], Awaitable[None]]
# A real drone waiting for a fresh battery is reminded of this often (wall seconds).
SWAP_REMINDER_S = 120.0
# Modes a drone on the ground may be armed from: never one left over from a refused start
# (PX4 arms in AUTO.TAKEOFF and climbs to its own MIS_TAKEOFF_ALT) or from the last landing.
_NOT_ARMABLE = (FlightMode.RETURN, FlightMode.LAND, FlightMode.MISSION, FlightMode.TAKEOFF)


class LaunchMixin(Parts):
    vehicles: dict[str, Vehicle]
    journal: Any
    views: dict[str, Any]
    fleet: Any
    fence: list[Any]
    transit_alt: dict[str, float]
    battery_swap: BatterySwap | None
    step_timeout_s: float
    uploads: dict[str, int]
    _rtl_alt_set: set[str]
    _speeds: dict[str, Speeds]
    _held: dict[tuple[str, int], str]
    _battery_hist: dict[str, Any]

    def flight_need_s(self, name: str, job: Job) -> float:
        """Vehicle seconds from take-off to landing for a job: the planner's estimate, which
        counts the climb, the descent and the turns (`sortie_for_lanes` estimates rebuilt
        sorties the same way)."""
        return job.sortie.est_time_s

    async def _prepare(
        self, name: str, job: Job | None, need_s: float, fence_uploaded: bool = True
    ) -> None:
        """On the ground: a battery that completes the flight (swapped if short); pre-flight."""
        v = self.vehicles[name]
        need_pct = self.sortie_need_pct(name, need_s)
        st = self._observe(name)
        if need_pct > 100.0:
            self.journal.event(
                "battery_short",
                f"the sortie needs {need_pct:.0f}% of a battery (planned for another airframe?)",
                sysid=v.sysid,
                severity="warning",
            )
        pct = st.battery.remaining_pct if st.battery else None
        if pct is not None and pct < min(need_pct, 100.0):
            await self._swap(name, min(need_pct, 100.0))
        deadline = time.monotonic() + self.step_timeout_s
        while True:
            st = self._observe(name)
            checks = preflight.evaluate(
                preflight.PreflightState(
                    name=name,
                    link_ok=st.link_ok,
                    heartbeat_age_s=None
                    if math.isinf(st.last_heartbeat_age_s)
                    else st.last_heartbeat_age_s,
                    gps_fix_type=st.gps.fix_type if st.gps else 0,
                    satellites=st.gps.satellites if st.gps else 0,
                    home_set=st.home is not None,
                    battery_pct=st.battery.remaining_pct if st.battery else None,
                    battery_needed_pct=min(need_pct, 100.0),
                    fence_uploaded=fence_uploaded,
                )
            )
            if preflight.is_go(checks):
                self.journal.event("preflight", "GO", sysid=v.sysid, job=job.id if job else "")
                return
            bad = "; ".join(f"{c.name}: {c.detail}" for c in checks if not c.ok)
            self.views[name].note = f"no-go: {bad}"
            if time.monotonic() > deadline:
                self.journal.event("preflight", f"NO-GO: {bad}", sysid=v.sysid, severity="error")
                raise DroneLost(f"pre-flight failed: {bad}")
            await asyncio.sleep(0.5)

    async def _swap(self, name: str, need_pct: float) -> None:
        """A fresh battery: the simulator's swap, or wait for the crew's (reported full)."""
        view = self.views[name]
        view.phase = "battery swap"
        v = self.vehicles[name]
        st = v.telemetry.state()
        pct = st.battery.remaining_pct if st.battery else None
        have = "?" if pct is None else f"{pct:.0f}%"
        if self.battery_swap is not None:
            self.journal.event("battery_swap", f"{have}; the next sortie needs {need_pct:.0f}%",
                               sysid=v.sysid)  # fmt: skip
            await self.battery_swap(name)
        else:
            self.journal.event(
                "battery_swap",
                f"battery {have}, the next sortie needs {need_pct:.0f}%: swap the battery "
                "(the drone waits until it reports enough)",
                sysid=v.sysid,
                severity="warning",
            )
            said = time.monotonic()
            while True:
                st = v.telemetry.state()
                pct = st.battery.remaining_pct if st.battery else None
                if pct is not None and pct >= need_pct and st.link_ok:
                    break
                if time.monotonic() - said > SWAP_REMINDER_S:
                    said = time.monotonic()
                    self.journal.event("battery_swap", f"still waiting ({have})",
                                       sysid=v.sysid, severity="warning")  # fmt: skip
                await asyncio.sleep(1.0)
        self._battery_hist[name].clear()

    async def _upload(self, name: str, job_id: str, items: list, mtype: MissionType) -> None:
        """Upload a plan unless the drone holds it: known from this run, or confirmed on board."""
        v = self.vehicles[name]
        what = {MissionType.MISSION: "mission", MissionType.FENCE: "fence"}.get(mtype, "rally")
        items = coerce_items(items, mtype)
        digest = content_hash(items)
        if self._held.get((name, int(mtype))) == digest:
            return
        if await v.mission.matches(items, mtype):
            self.journal.event(f"{what}_on_board", sysid=v.sysid, job=job_id)
        else:
            async with self.journal.command(
                v.sysid, f"upload_{what}", {"job": job_id, "items": len(items)}
            ) as info:
                info["opaque_id"] = await v.mission.upload(items, mtype)
            self.uploads[name] += 1
        self._held[(name, int(mtype))] = digest

    def forget_plans(self, name: str) -> None:
        """A reboot or a long outage: what was on board must be checked again."""
        for key in [k for k in self._held if k[0] == name]:
            del self._held[key]
        self._rtl_alt_set.discard(name)

    async def _set_rtl_alt(self, name: str) -> None:
        """Return at this drone's own transit altitude, so returns are staggered too; read the
        speeds its autopilot returns and lands at."""
        if name in self._rtl_alt_set:
            return
        v = self.vehicles[name]
        alt = self.transit_alt[name]
        ap = v.identity.autopilot == Autopilot.ARDUPILOT
        param, value = ("RTL_ALT", alt * 100.0) if ap else ("RTL_RETURN_ALT", alt)
        try:
            async with self.journal.command(v.sysid, "param_set", {param: value}):
                await v.params.set(param, value)
        except LinkError as exc:
            # Not fatal: the transit legs in the mission are staggered regardless.
            self.journal.event(
                "rtl_alt", f"could not set {param}: {exc}", sysid=v.sysid, severity="warning"
            )
        self._speeds[name] = await vehicle_speeds(v, self.airframe(name))
        self._rtl_alt_set.add(name)

    async def _ready_to_arm(self, name: str) -> None:
        """Down, disarmed, and in a mode that arms for a take-off (ArduPilot: GUIDED; PX4:
        hold), whatever an earlier refused start or landing left behind."""
        v = self.vehicles[name]
        st = self._observe(name)
        if airborne(st):
            raise LinkError(f"vehicle {v.sysid}: in the air, not ready for a take-off")
        if st.armed:
            async with self.journal.command(v.sysid, "disarm", {"reason": "armed on the ground"}):
                await v.action.disarm()
            await v.telemetry.wait_for(lambda s: not s.armed, 10.0, "disarmed")
        if v.identity.autopilot == Autopilot.ARDUPILOT:
            if st.mode != FlightMode.GUIDED:
                async with self.journal.command(v.sysid, "set_mode", {"mode": "guided"}):
                    await v.action.set_mode(FlightMode.GUIDED)
        elif st.mode in _NOT_ARMABLE:
            async with self.journal.command(v.sysid, "set_mode", {"mode": "hold"}):
                await v.action.set_mode(FlightMode.HOLD)
            await v.telemetry.wait_for(
                lambda s: s.mode not in _NOT_ARMABLE, 10.0, "hold mode before arming"
            )

    async def _takeoff(self, name: str, alt_m: float) -> None:
        v = self.vehicles[name]
        await self._ready_to_arm(name)
        async with self.journal.command(v.sysid, "arm"):
            await v.action.arm()
        async with self.journal.command(v.sysid, "takeoff", {"alt_rel_m": alt_m}):
            await v.action.takeoff(alt_m)
        self.views[name].phase = "takeoff"
        af = self.airframe(name)
        # PX4 climbs at MPC_TKO_SPEED (1.5 m/s by default), much slower than the catalogue.
        climb_s = alt_m / min(af.climb_rate_ms, 1.0) + 30.0
        await v.telemetry.wait_for(
            lambda s: s.position is not None and s.position.alt_rel_m >= 0.8 * alt_m,
            timeout_s=max(self.step_timeout_s, self.wall(climb_s)),
            what=f"climb to {alt_m:.0f} m",
        )
