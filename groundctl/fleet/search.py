"""One search sortie, from upload to the moment it ends in the air. `SearchMixin` is part of
`Orchestrator`.

Every sortie starts at its first item (PX4 keeps an earlier mission's index after an upload)
and its lanes count as swept only when the autopilot has passed their end items *and* the
drone's own track flew them (`trackcheck.LaneTrack`): a mission index that jumps past the
lanes, a stale one or a mistaken one, sweeps nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

from groundctl.errors import LinkError
from groundctl.fleet import progress
from groundctl.fleet.flight import DroneLost, airborne, holds
from groundctl.fleet.journal import ActiveSortie
from groundctl.fleet.parts import Parts
from groundctl.fleet.sortie import Job, build_mission
from groundctl.fleet.trackcheck import LaneTrack
from groundctl.link import FlightMode, MissionType, Vehicle, VehicleState, coerce_items
from groundctl.link import mission_hash as content_hash

# Vehicle seconds in hold, in the middle of a mission, that end the sortie.
HOLD_ENDS_SORTIE_S = 10.0
# Vehicle seconds after the mission was started for the autopilot to be flying it. PX4 v1.16
# ACKs AUTO.MISSION for a mission it found invalid (a waypoint inside a no-fly zone:
# "Geofence violation for waypoint N") and hovers where it is for good.
MISSION_START_S = 15.0


class SearchMixin(Parts):
    vehicles: dict[str, Vehicle]
    journal: Any
    views: dict[str, Any]
    current: dict[str, Job | None]
    swept: set[int]
    transit_alt: dict[str, float]
    fence: list[Any]
    lane_start: dict[int, tuple[float, float]]
    lane_end: dict[int, tuple[float, float]]
    poll_s: float
    _wake: asyncio.Event
    _orders: dict[str, asyncio.Queue[Any]]

    async def _fly(self, name: str, job: Job, reattach: ActiveSortie | None = None) -> int:
        """Fly one search sortie; return how many of its lanes it swept."""
        v = self.vehicles[name]
        view = self.views[name]
        alt = self.transit_alt[name]
        items, lane_end = build_mission(job.sortie, alt)
        link_items = coerce_items(items)
        st = self._observe(name)
        if reattach is not None:
            if airborne(st) and await holds(v, link_items):
                self.current[name] = job
                view.job, view.lanes_total = job.id, len(job.lanes)
                self.journal.event(
                    "reattached", sysid=v.sysid, sortie_id=reattach.sortie_id, job=job.id
                )
                return await self._fly_from_air(
                    name, job, reattach.sortie_id, lane_end, st, reattached=True
                )
            self.journal.update_job(reattach.sortie_id, status="aborted")
            if airborne(st):
                # In the air with some other mission on board: bring it home first.
                self.journal.event(
                    "reattach_mismatch", "mission on board differs; RTL", sysid=v.sysid
                )
                await self._land(name, "mission on board differs")
            left = self._left(job)
            if left is None:
                return 0
            job = left
            items, lane_end = build_mission(job.sortie, alt)
            link_items = coerce_items(items)
        self.current[name] = job
        view.job, view.lanes_total, view.lanes_swept = job.id, len(job.lanes), 0
        uploaded_at = time.time()
        sortie_id = self.journal.add_job(job, name, v.sysid, content_hash(link_items))
        view.phase = "upload"
        try:
            # PX4 goes back to AUTO.MISSION when it disarms after a mission's landing; its
            # navigator, active there, moves the index of a mission uploaded meanwhile (seen
            # on SITL v1.16). Out of it first, then upload and set the index.
            await self._ready_to_arm(name)
            await self._upload(name, job.id, link_items, MissionType.MISSION)
            await self._upload(name, job.id, self.fence, MissionType.FENCE)
            # PX4 keeps the previous mission's index (capped) after an upload, and keeps it
            # for an unchanged one: start every sortie at its first item, explicitly.
            async with self.journal.command(v.sysid, "set_current", {"seq": 0}):
                await v.action.set_current_item(0)
            await self._set_rtl_alt(name)
            view.phase = "pre-flight"
            await self._prepare(name, job, self.flight_need_s(name, job))
        except (LinkError, DroneLost) as exc:
            self.journal.update_job(sortie_id, status="aborted", end_reason=str(exc))
            self.current[name] = None
            raise
        self.journal.update_job(sortie_id, status="flying")
        try:
            await self._takeoff(name, alt)
            async with self.journal.command(v.sysid, "set_current", {"seq": 0}):
                await v.action.set_current_item(0)
            async with self.journal.command(v.sysid, "start_mission", {"job": job.id}):
                await v.action.start_mission()
        except LinkError as exc:
            self.journal.event(
                "start_refused", str(exc), sysid=v.sysid, severity="error", sortie_id=sortie_id
            )
            if not airborne(self._observe(name)):
                # Never got off the ground: the drone loop retries, then gives up on it.
                self.journal.update_job(sortie_id, status="aborted", end_reason=str(exc))
                self.current[name] = None
                with contextlib.suppress(LinkError):
                    if self._observe(name).armed:
                        await v.action.disarm()
                raise
            await self._end_sortie(name, job, sortie_id, f"error: {exc}")
            return 0
        return await self._fly_from_air(
            name, job, sortie_id, lane_end, self._observe(name), since=uploaded_at
        )

    async def _fly_from_air(
        self,
        name: str,
        job: Job,
        sortie_id: int,
        lane_end: dict[int, int],
        st: VehicleState,
        reattached: bool = False,
        since: float | None = None,
    ) -> int:
        before = len([x for x in job.lanes if x in self.swept])
        try:
            reason = await self._follow(name, job, sortie_id, lane_end, st, reattached, since)
        except LinkError as exc:
            self.journal.event(
                "error", str(exc), sysid=st.sysid, severity="error", sortie_id=sortie_id
            )
            reason = f"error: {exc}"
        swept = len([x for x in job.lanes if x in self.swept]) - before
        await self._end_sortie(name, job, sortie_id, reason)
        return swept

    async def _follow(
        self,
        name: str,
        job: Job,
        sortie_id: int,
        lane_end: dict[int, int],
        st0: VehicleState,
        reattached: bool = False,
        since: float | None = None,
    ) -> str:
        """Watch the mission until it ends; return why it ended. `since`: when its mission
        went up (the autopilot's words from then on explain a mission it never started)."""
        v = self.vehicles[name]
        view = self.views[name]
        view.phase = "search"
        lost_since: list[float | None] = [None]
        seen_mission = st0.mode in (FlightMode.MISSION, FlightMode.RETURN, FlightMode.LAND)
        last_seq = max(lane_end.values(), default=0)
        # A drone we reattach to may be in the middle of a lane: its start counts as flown.
        cur = st0.mission.current_seq if seen_mission else 0
        mid = [x for x in job.lanes if lane_end.get(x, -1) >= cur][:1] if seen_mission else []
        # Lanes this sortie swept before a reattach stay in its record.
        kept = {x for x in job.lanes if x in self.swept} if reattached else set()
        if reattached and mid:
            # No ground station recorded the track before now: say which start is taken as
            # flown, so the record shows why the lane counts (tests/sitl checks it).
            self.journal.event(
                "lane_in_progress",
                f"lane {mid[0]} not ended at the reattach: its start counts as flown",
                sysid=v.sysid, sortie_id=sortie_id, lanes=mid, announce=False,
            )  # fmt: skip
        track = LaneTrack(
            {x: self.lane_start[x] for x in job.lanes},
            {x: self.lane_end[x] for x in job.lanes},
            started=set(mid),
        )
        feeder = asyncio.create_task(self._feed_track(v, track), name=f"track-{name}")
        held_since: float | None = None
        started = time.monotonic()
        try:
            while True:
                await asyncio.sleep(self.poll_s)
                st = self._observe(name)
                await self._check_link(name, st, lost_since)
                if not st.link_ok:
                    continue
                said = progress.swept_lanes(lane_end, st.mission.reached, st.mission.current_seq)
                done = said & track.flown_lanes()
                new = done - self.swept
                if new:
                    self.swept |= new
                    self._wake.set()
                swept_here = [x for x in job.lanes if x in self.swept]
                if len(swept_here) != view.lanes_swept or new:
                    view.lanes_swept = len(swept_here)
                    self.journal.update_job(
                        sortie_id,
                        swept=[x for x in job.lanes if x in done or x in kept],
                        progress=len(swept_here) / max(1, len(job.lanes)),
                    )
                if st.mode == FlightMode.MISSION:
                    seen_mission = True
                if len(swept_here) == len(job.lanes):
                    return "sortie complete"
                if not st.armed and not st.in_air and seen_mission:
                    raise DroneLost("landed or disarmed in the middle of its mission")
                passed = said - done - self.swept
                if seen_mission and passed and st.mission.current_seq > last_seq:
                    skipped = sorted(x for x in job.lanes if x in passed)
                    self.journal.event(
                        "lanes_not_flown",
                        f"the mission went past {len(skipped)} lane(s) its track never flew",
                        sysid=v.sysid, sortie_id=sortie_id, lanes=skipped, severity="warning",
                    )  # fmt: skip
                    return "mission passed lanes its track did not fly"
                if (
                    seen_mission
                    and st.mode in (FlightMode.RETURN, FlightMode.LAND)
                    and st.mission.current_seq <= last_seq
                ):
                    return f"autopilot switched to {st.mode_name or st.mode.value}"
                # A failsafe that holds (a geofence breach, PX4's GF_ACTION hold) would hover
                # the battery away: end the sortie and bring the drone home.
                now = time.monotonic()
                held_since = (
                    held_since or now if seen_mission and st.mode == FlightMode.HOLD else None
                )
                if held_since is not None and now - held_since > self.wall(HOLD_ENDS_SORTIE_S):
                    said_last = st.last_statustext.text if st.last_statustext else ""
                    return f"autopilot holds ({said_last or st.mode_name})"
                pct = st.battery.remaining_pct if st.battery else None
                if pct is not None and pct <= self.leave_threshold_pct(name, st):
                    self.journal.event(
                        "low_battery", f"{pct:.0f}%", sysid=v.sysid, severity="warning",
                        sortie_id=sortie_id,
                    )  # fmt: skip
                    return f"low battery {pct:.0f}%"
                if not self._orders[name].empty():
                    return "overwatch"
                if not seen_mission and now - started > self.wall(MISSION_START_S):
                    return f"mission did not start ({self._autopilot_says(name, since)})"
        finally:
            feeder.cancel()
            await asyncio.wait([feeder], timeout=1.0)

    def _autopilot_says(self, name: str, since: float | None) -> str:
        """The autopilot's warnings since `since`, else its last words: why it did not fly."""
        events = (
            self.journal.store.events(
                sysid=self.vehicles[name].sysid, kind="vehicle.statustext", since=since
            )
            if since is not None
            else []
        )
        texts = [e.message for e in events if e.severity != "info" and e.message]
        last = self._observe(name).last_statustext
        if not texts and last is not None:
            texts = [last.text]
        return "; ".join(dict.fromkeys(texts[-3:])) or "no reason given"

    @staticmethod
    async def _feed_track(v: Vehicle, track: LaneTrack) -> None:
        last = None
        async for st in v.telemetry.subscribe():
            p = st.position
            if p is not None and p is not last and st.link_ok:
                last = p
                track.add(p.lat, p.lon)
