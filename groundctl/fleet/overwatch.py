"""Overwatch relay: a drone keeps a confirmed person in view; the next arrives before it leaves.

`OverwatchMixin` is part of `Orchestrator` (it uses the orchestrator's drones, journal and
flight helpers); the relay schedule itself is the pure `groundctl.fleet.relay`, and which
hits may be held by which drones the pure `groundctl.fleet.watchrules`: a confirmed person
only, one watch per body, and never the last searching drone while people are missing.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field

from groundctl.errors import LinkError
from groundctl.fleet import assign, relay, watchrules
from groundctl.fleet.flight import LAUNCH_S, LAUNCH_WALL_S, RETURN_MARGIN_PCT, airborne
from groundctl.link import MissionType
from thermal.hit import Hit, seen_from_m

# A drone is "over the target" within this distance (plus the hit's own uncertainty).
ON_STATION_RADIUS_M = 15.0


@dataclass
class Watch:
    """An overwatch over one confirmed person."""

    hit: Hit
    open: dict[str, float] = field(default_factory=dict)  # drones over the target: arrival
    history: list[tuple[str, float, float]] = field(default_factory=list)  # (name, arrive, leave)
    released: set[str] = field(default_factory=set)
    arrived: dict[str, asyncio.Event] = field(default_factory=dict)
    ended: asyncio.Event = field(default_factory=asyncio.Event)
    handovers: int = 0
    incoming: set[str] = field(default_factory=set)  # reliefs ordered, not there yet
    slot: int = 0  # alternates the hold altitude so two drones over the target are separated

    @property
    def target(self) -> tuple[float, float]:
        return (self.hit.lat, self.hit.lon)

    def arrived_event(self, name: str) -> asyncio.Event:
        return self.arrived.setdefault(name, asyncio.Event())

    def arrive(self, name: str, t: float) -> None:
        self.open[name] = t
        self.arrived_event(name).set()

    def leave(self, name: str, t: float) -> None:
        if name in self.open:
            self.history.append((name, self.open.pop(name), t))

    def intervals(self, now: float) -> list[tuple[float, float]]:
        """(arrive, leave) of every turn over the target; open turns end `now`."""
        return [(a, b) for _, a, b in self.history] + [(a, now) for a in self.open.values()]


class OverwatchMixin:
    """The overwatch part of `Orchestrator`."""

    def note_hit(self, hit: Hit) -> None:
        """The thermal pipeline's hit with its sightings: remember how far apart the camera
        positions that saw the person were (the store keeps no camera positions)."""
        seen = seen_from_m(hit.sightings, "person")
        self.seen_from[hit.id] = max(self.seen_from.get(hit.id, 0.0), seen)

    async def _watch_store_hits(self) -> None:
        """Confirmed people written to the operation database (by the thermal pipeline via
        dispatch) start an overwatch; a ground team's "found" or "false_alarm" ends it. A
        person hit seen from one position only waits for a second look or the coordinator's
        confirmation."""
        while True:
            for h in self.journal.store.hits():
                if h.id in self.watches:
                    if (
                        h.status in ("found", "false_alarm")
                        and not self.watches[h.id].ended.is_set()
                    ):
                        self.end_overwatch(h.id)
                    continue
                if h.target_class != "person" or h.confidence < self.min_person_confidence:
                    continue
                if h.status in ("found", "false_alarm") or h.id in self.duplicate_of:
                    continue
                why = watchrules.confirmed_person(
                    h.vehicle_ids, self.seen_from.get(h.id, 0.0), h.status
                )
                if not why:
                    if h.id not in self._unconfirmed:
                        self._unconfirmed.add(h.id)
                        self.journal.event(
                            "overwatch_unconfirmed", h.id, detail="seen from one position"
                        )
                    continue
                self.overwatch(
                    Hit(
                        id=h.id,
                        target_class="person",
                        confidence=h.confidence,
                        lat=h.lat,
                        lon=h.lon,
                        uncertainty_m=h.uncertainty_m,
                        first_seen=h.first_seen,
                        last_seen=h.last_seen,
                        sightings=(),
                        vehicle_ids=h.vehicle_ids,
                        temp_c=h.temp_c,
                    ),
                    why,
                )
            await asyncio.sleep(1.0)

    # ------------------------------------------------------------------ overwatch
    def overwatch(self, hit: Hit, why: str = "operator") -> Watch | None:
        """A confirmed person: start keeping them in view. Returns the watch (None if the hit
        is not a person, is already watched, or is a person already held: within a body
        length and the positions' uncertainty of a watched one)."""
        if hit.target_class != "person" or hit.id in self.watches:
            return None
        for w in self.watches.values():
            if not w.ended.is_set() and watchrules.same_person(w.hit, hit):
                if hit.id not in self.duplicate_of:
                    self.duplicate_of[hit.id] = w.hit.id
                    self.journal.event(
                        "overwatch_duplicate", f"{hit.id} is {w.hit.id}", hit=hit.id,
                        watched=w.hit.id, distance_m=assign.distance_m(w.target, (hit.lat, hit.lon)),
                    )  # fmt: skip
                return None
        watch = Watch(hit)
        self.watches[hit.id] = watch
        for n in self.cfg:
            if self.vehicles[n].sysid in hit.vehicle_ids:
                self.views[n].hits += 1
        self.journal.event("overwatch_start", hit.id, lat=hit.lat, lon=hit.lon, why=why)
        self._tasks.append(asyncio.create_task(self._relay(watch), name=f"relay-{hit.id}"))
        return watch

    def end_overwatch(self, hit_id: str) -> None:
        w = self.watches.get(hit_id)
        if w is not None:
            w.ended.set()
            self.journal.event("overwatch_end", hit_id)
            self._wake.set()

    def _watching(self, name: str) -> bool:
        return (
            not self._orders[name].empty()
            or self.views[name].phase in ("to target", "overwatch")
            or any(name in w.open or name in w.incoming for w in self.watches.values())
        )

    def _reserved(self, watch: Watch) -> set[str]:
        """The drones `watch` may not take: the last searching one, while lanes remain and
        people are still missing."""
        searchers = {n for n in self.cfg if n not in self.lost and not self._watching(n)}
        held = sum(1 for w in self.watches.values() if w is not watch and not w.ended.is_set())
        if len(searchers) <= 1 and watchrules.must_keep_searcher(
            self.missing, held, not self.search_done()
        ):
            return searchers
        return set()

    def _candidates(self, watch: Watch, exclude: set[str]) -> list[relay.Candidate]:
        now = time.monotonic()
        out = []
        exclude = exclude | self._reserved(watch)
        for n in self.cfg:
            if n in self.lost or n in exclude or not self._orders[n].empty():
                continue
            if any(n in w.open for w in self.watches.values()):
                continue
            st = self.vehicles[n].telemetry.state()
            af = self.airframe(n)
            here = (
                (st.position.lat, st.position.lon)
                if st.position and airborne(st)
                else self.launch_of(n)
            )
            transit = self.wall(
                assign.distance_m(here, watch.target) / af.cruise_speed_ms
                + (0 if airborne(st) else self.transit_alt[n] / af.climb_rate_ms + LAUNCH_S)
            ) + (0.0 if airborne(st) else LAUNCH_WALL_S)
            pct = (
                st.battery.remaining_pct
                if st.battery and st.battery.remaining_pct is not None
                else 100.0
            )
            ready = now
            if not airborne(st) and pct < 90:
                ready = now + self.wall(self.fleet.battery_swap_s) + 2.0
                pct = 100.0
            if airborne(st) and self.views[n].phase not in ("search", "takeoff"):
                continue
            drain = self.drain_pct_per_s(n)
            on_station = max(
                0.0, (pct - af.battery_reserve_pct - RETURN_MARGIN_PCT) / drain - 2 * transit
            )
            out.append(relay.Candidate(n, ready, transit, on_station))
        return out

    def _order(self, name: str, watch: Watch) -> None:
        watch.arrived[name] = asyncio.Event()
        watch.released.discard(name)
        self._orders[name].put_nowait(watch)
        self._wake.set()

    async def _relay(self, watch: Watch) -> None:
        margin = self.wall(self.fleet.overwatch.handover_margin_s)
        first = None
        waiting = False
        while first is None and not watch.ended.is_set():
            # The drone that found the person, if it is flying; else the best candidate.
            reserved = self._reserved(watch)
            for n in self.cfg:
                st = self.vehicles[n].telemetry.state()
                if (
                    self.vehicles[n].sysid in watch.hit.vehicle_ids
                    and airborne(st)
                    and n not in self.lost
                    and n not in reserved
                    and not self._watching(n)
                ):
                    first = n
            if first is None:
                cands = self._candidates(watch, set())
                if cands:
                    first = min(cands, key=lambda c: c.ready_at_s + c.transit_s).name
                    break
                if not waiting:
                    waiting = True
                    self.journal.event(
                        "overwatch_unstaffed",
                        watch.hit.id,
                        severity="warning" if reserved else "critical",
                        why="the last searching drone searches on" if reserved else "no drone",
                    )
                await asyncio.sleep(1.0)
        if first is None:
            return
        watcher = first
        self._order(watcher, watch)
        while not watch.ended.is_set():
            # Until the watcher is over the target; the person may be found (the watch
            # ends) or the watcher lost on its way, and neither may leave this task waiting.
            on_way = watch.arrived_event(watcher)
            while not on_way.is_set() and not watch.ended.is_set() and watcher not in self.lost:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(on_way.wait(), timeout=0.5)
            relief_name = None
            while not watch.ended.is_set() and watcher not in watch.released:
                st = self.vehicles[watcher].telemetry.state()
                if watcher in self.lost or watcher not in watch.open:
                    break
                pct = (
                    st.battery.remaining_pct
                    if st.battery and st.battery.remaining_pct is not None
                    else 100.0
                )
                af = self.airframe(watcher)
                leave = relay.must_leave_at(
                    time.monotonic(),
                    pct,
                    af.battery_reserve_pct + RETURN_MARGIN_PCT,
                    self.drain_pct_per_s(watcher),
                    self.return_s(watcher, st),
                )
                plan = relay.plan_relief(
                    relay.OnStation(watcher, leave), self._candidates(watch, {watcher}), margin
                )
                if plan is not None and plan.depart_at_s <= time.monotonic() + self.poll_s:
                    relief_name = plan.name
                    self.journal.event(
                        "relief_ordered",
                        f"{plan.name} relieves {watcher}",
                        hit=watch.hit.id,
                        arrive_in_s=plan.arrive_at_s - time.monotonic(),
                        overlap_s=plan.overlap_s,
                    )
                    break
                await asyncio.sleep(self.poll_s)
            if watch.ended.is_set() or relief_name is None:
                if relief_name is None and not watch.ended.is_set():
                    # The watcher left (battery / lost) with no relief planned: find one now.
                    cands = self._candidates(watch, {watcher})
                    if not cands:
                        await asyncio.sleep(1.0)
                        continue
                    relief_name = min(cands, key=lambda c: c.ready_at_s + c.transit_s).name
                else:
                    break
            watch.slot ^= 1
            self._order(relief_name, watch)
            watch.incoming.add(relief_name)
            arrived = watch.arrived_event(relief_name)
            while not arrived.is_set() and not watch.ended.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(arrived.wait(), timeout=0.5)
                if relief_name in self.lost:
                    break
            watch.incoming.discard(relief_name)
            if arrived.is_set():
                watch.released.add(watcher)
                watch.handovers += 1
                self.journal.event("handover", f"{watcher} -> {relief_name}", hit=watch.hit.id)
            watcher = relief_name
        watch.released.update(watch.open)

    async def _fly_watch(self, name: str, watch: Watch) -> None:
        """Fly to the target, hold over it until released or the battery says go home."""
        if watch.ended.is_set():
            return
        v = self.vehicles[name]
        view = self.views[name]
        af = self.airframe(name)
        view.phase, view.job, view.note = "to target", f"watch {watch.hit.id}", ""
        sortie_id = self.journal.store.add_sortie(
            v.sysid,
            plan_id=self.journal.plan_id,
            role="overwatch",
            status="flying",
            detail={"vehicle": name, "hit": watch.hit.id},
        )
        st = self._observe(name)
        if not airborne(st):
            fence_ok = True
            try:
                await self._upload(name, f"watch {watch.hit.id}", self.fence, MissionType.FENCE)
                await self._set_rtl_alt(name)
            except LinkError:
                fence_ok = False
            await self._prepare(name, None, af.endurance_min * 60 * 0.5, fence_ok)
            await self._takeoff(name, self.transit_alt[name])
            st = self._observe(name)
        home_amsl = st.home.alt_amsl_m if st.home else 0.0
        hold = self.fleet.overwatch.hold_alt_m + watch.slot * self.fleet.transit.step_m
        lat, lon = watch.target
        radius = self.fleet.overwatch.orbit_radius_m
        async with self.journal.command(
            v.sysid, "orbit" if radius > 0 else "goto", {"lat": lat, "lon": lon, "alt_rel_m": hold}
        ):
            if radius > 0:
                await v.action.orbit(lat, lon, home_amsl + hold, radius)
            else:
                await v.action.goto(lat, lon, home_amsl + hold)
        lost_since: list[float | None] = [None]
        reason = "ended"
        near = ON_STATION_RADIUS_M + radius + watch.hit.uncertainty_m
        while True:
            await asyncio.sleep(self.poll_s)
            st = self._observe(name)
            await self._check_link(name, st, lost_since)
            if not st.link_ok or st.position is None:
                continue
            d = assign.distance_m((st.position.lat, st.position.lon), watch.target)
            if not watch.arrived_event(name).is_set() and d <= near:
                watch.arrive(name, time.monotonic())
                view.phase = "overwatch"
                self.journal.event("on_station", watch.hit.id, sysid=v.sysid)
            if watch.ended.is_set() or name in watch.released:
                reason = "relieved" if name in watch.released else "overwatch ended"
                break
            pct = st.battery.remaining_pct if st.battery else None
            # With a relief on its way the drone may use its return margin (never its
            # reserve) to wait for it: no gap over the person.
            spare = RETURN_MARGIN_PCT if watch.incoming else 0.0
            if pct is not None and pct <= self.leave_threshold_pct(name, st) - spare:
                reason = f"low battery {pct:.0f}%"
                self.journal.event("overwatch_leave", reason, sysid=v.sysid, severity="warning")
                break
        watch.leave(name, time.monotonic())
        view.note = reason
        self.journal.store.update_sortie(sortie_id, status="returning")
        async with self.journal.command(v.sysid, "RTL", {"reason": reason}):
            await v.action.return_to_launch()
        view.phase = "return"
        while True:
            st = self._observe(name)
            await self._check_link(name, st, lost_since)
            if st.link_ok and not st.in_air and not st.armed:
                break
            await asyncio.sleep(self.poll_s)
        self.journal.store.update_sortie(sortie_id, status="done", ended_at=time.time())
        view.phase = "landed"
