"""The end of a sortie: what is left of it goes back in the queue, the drone comes home and
lands. `ReturnMixin` is part of `Orchestrator`.

A return is judged by progress, never by a deadline computed from catalogue speeds: the
autopilot climbs to its return altitude, flies home at its own cruise speed and lands at its
own land speed, all set on the vehicle. The drone is lost only when it stops getting
anywhere (no move of a few metres, no climb or descent) for `RETURN_STALL_S`, or its link
stays lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

from groundctl.errors import LinkError
from groundctl.fleet.flight import DroneLost, airborne
from groundctl.fleet.parts import Parts
from groundctl.fleet.sortie import Job
from groundctl.fleet.trackcheck import ProgressWatch
from groundctl.link import FlightMode, Vehicle

# Vehicle seconds a returning drone may make no progress: land detection and the automatic
# disarm after touch-down take a few seconds; a loiter at home before landing more.
RETURN_STALL_S = 90.0


class ReturnMixin(Parts):
    vehicles: dict[str, Vehicle]
    journal: Any
    views: dict[str, Any]
    current: dict[str, Job | None]
    queues: dict[str, Any]
    lost: set[str]
    poll_s: float

    async def _end_sortie(self, name: str, job: Job, sortie_id: int, reason: str) -> None:
        """Close a sortie: what is left of it is flown next (by this drone, or by the others
        when this one goes on overwatch); come home unless an overwatch takes the drone."""
        view = self.views[name]
        view.note = reason
        self.current[name] = None
        left = self._left(job)
        self.journal.event(
            "sortie_end",
            reason,
            sysid=view.sysid,
            sortie_id=sortie_id,
            left=list(left.lanes) if left else [],
        )
        if reason == "overwatch":
            self.journal.update_job(sortie_id, status="done", end_reason=reason)
            if left is not None:
                self._redistribute(name, [left], exclude={name})
            return
        if left is not None:
            self.queues[name].appendleft(left)
        self.journal.update_job(sortie_id, status="returning", end_reason=reason)
        await self._land(name, reason)
        self.journal.update_job(sortie_id, status="done")

    async def _land(self, name: str, reason: str) -> None:
        """Return to launch (unless already on the way or down) and wait until disarmed."""
        v = self.vehicles[name]
        view = self.views[name]
        view.phase = "return"
        st = self._observe(name)
        if airborne(st) and st.mode not in (FlightMode.RETURN, FlightMode.LAND):
            async with self.journal.command(v.sysid, "RTL", {"reason": reason}):
                await v.action.return_to_launch()
        lost_since: list[float | None] = [None]
        watch = ProgressWatch(self.wall(RETURN_STALL_S))
        while True:
            st = self._observe(name)
            await self._check_link(name, st, lost_since)
            if st.link_ok and not st.in_air and not st.armed:
                break
            now = time.monotonic()
            if st.link_ok and st.position is not None:
                p = st.position
                watch.update(now, p.lat, p.lon, p.alt_rel_m)
            if watch.stalled(now):
                where = (
                    f"{st.position.alt_rel_m:.0f} m up" if st.position is not None else "unknown"
                )
                raise DroneLost(
                    f"no progress home for {watch.idle_s(now):.0f} s after return to launch "
                    f"({st.mode_name or st.mode.value}, {where}, armed {st.armed})"
                )
            await asyncio.sleep(self.poll_s)
        view.phase = "landed"

    async def return_all(self) -> None:
        """Every drone in the air comes home (operator's order)."""
        for name, v in self.vehicles.items():
            if name in self.lost:
                continue
            with contextlib.suppress(LinkError):
                st = v.telemetry.state()
                if airborne(st):
                    async with self.journal.command(v.sysid, "RTL", {"reason": "operator"}):
                        await v.action.return_to_launch()
