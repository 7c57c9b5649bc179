"""What the drones say, kept: snapshots for the live view, link watch, and the journal of
every event and track point. `ObserveMixin` is part of `Orchestrator`."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from groundctl.fleet.flight import DroneLost, whereabouts
from groundctl.fleet.parts import Parts
from groundctl.link import LinkEventKind, Vehicle, VehicleState
from groundctl.store import TrackPoint


class ObserveMixin(Parts):
    vehicles: dict[str, Vehicle]
    journal: Any
    views: dict[str, Any]
    lost: set[str]
    lost_after_s: float
    _lost_link: set[str]
    _stop: asyncio.Event
    _tasks: list[asyncio.Task[None]]

    def _observe(self, name: str) -> VehicleState:
        st = self.vehicles[name].telemetry.state()
        v = self.views[name]
        v.sysid = st.sysid
        v.mode = st.mode_name or st.mode.value
        v.link_ok = st.link_ok
        v.heartbeat_age_s = st.last_heartbeat_age_s
        if st.battery is not None and st.battery.remaining_pct is not None:
            v.battery_pct = st.battery.remaining_pct
        self._track_clocks(name, st)
        return st

    async def _check_link(
        self, name: str, st: VehicleState, lost_since: list[float | None]
    ) -> None:
        if st.link_ok:
            if lost_since[0] is not None:
                self.journal.event("link_restored", sysid=st.sysid)
            lost_since[0] = None
            return
        now = time.monotonic()
        if lost_since[0] is None:
            lost_since[0] = now
            self.journal.event("link_lost", sysid=st.sysid, severity="warning")
            self.views[name].note = "link lost"
        elif now - lost_since[0] > self.lost_after_s:
            raise DroneLost(f"no link for {now - lost_since[0]:.0f} s")

    async def _record(self, name: str) -> None:
        """Journal what the vehicle says (STATUSTEXT, modes, arming, link, reboots) and its
        track (thinned by the store), so nothing a drone reported is lost."""
        v = self.vehicles[name]

        async def events() -> None:
            async for ev in v.telemetry.events():
                if ev.kind == LinkEventKind.ITEM_REACHED:
                    continue  # folded into swept lanes; one row per waypoint is noise
                warn = (
                    LinkEventKind.LINK_LOST,
                    LinkEventKind.REBOOTED,
                    LinkEventKind.DUPLICATE_SYSID,
                )
                sev = "warning" if ev.kind in warn else "info"
                if ev.kind == LinkEventKind.STATUSTEXT and ev.data.get("severity", 6) <= 4:
                    sev = "warning"
                self.journal.event(
                    f"vehicle.{ev.kind.value}", ev.detail, sysid=ev.sysid, severity=sev
                )
                if ev.kind == LinkEventKind.REBOOTED:
                    self.forget_plans(name)
                if ev.kind == LinkEventKind.LINK_RESTORED and name in self._lost_link:
                    self._recover(name)

        async def track() -> None:
            while True:
                await asyncio.sleep(max(0.2, 1.0 / self.pace()))
                st = v.telemetry.state()
                where = whereabouts(st)
                if where is not None:
                    self.journal.store.add_track_point(
                        TrackPoint(sysid=st.sysid, ts=time.time(), **where)
                    )

        await asyncio.gather(events(), track())

    def _recover(self, name: str) -> None:
        """A drone given up for a lost link is heard again: it comes home and takes work."""
        if self._stop.is_set():
            return
        self._lost_link.discard(name)
        self.lost.discard(name)
        self.lost_why.pop(name, None)
        self.forget_plans(name)
        self.views[name].phase, self.views[name].note = "recovered", "link back"
        self.journal.event("vehicle_recovered", sysid=self.views[name].sysid, severity="warning")
        self._tasks.append(asyncio.create_task(self._drone(name), name=f"drone-{name}"))
