"""The map's state, from the operation database: snapshots for a browser that connects, and
deltas for every open browser as the database changes (whoever wrote it: this server, a
`groundctl fly` in another process, a dispatch listener's ack).

`PRAGMA data_version` tells when anything was committed; only then are the tables read,
each from its cursor (row ids, update times), so polling an idle database costs nothing.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

from groundctl.web.hub import Hub
from groundctl.web.plangeo import PlanGeometry
from groundctl.web.queries import TEAM_EVENT, Reader
from groundctl.web.teams import guidance
from missions.plan import Plan

log = logging.getLogger(__name__)


class Watcher:
    def __init__(
        self, reader: Reader, hub: Hub, live: Callable[[], dict[str, Any]], poll_s: float = 0.25
    ) -> None:
        self.reader = reader
        self.hub = hub
        self.live = live  # in-memory extras: the flight this server runs, live vehicle states
        self.poll_s = poll_s
        self._version = -1
        self._track_id = reader.last_track_id()
        self._ack_rowid = reader.last_ack_rowid()
        self._event_id = reader.last_event_id()
        self._hits_since = time.time() - 5.0
        self._hit_sig: dict[str, tuple[Any, ...]] = {h["id"]: _hit_sig(h) for h in reader.hits()}
        self._sortie_sig: tuple[Any, ...] = ()
        self._overwatch: dict[str, Any] = reader.overwatch()
        self._plans = len(reader.plans())
        self._geo: dict[int, PlanGeometry] = {}
        self.ticks = 0

    # ------------------------------------------------------------------ geometry
    def geometry(self, plan_id: int) -> PlanGeometry | None:
        geo = self._geo.get(plan_id)
        if geo is None:
            doc = self.reader.plan_doc(plan_id)
            if doc is None:
                return None
            geo = PlanGeometry.of(plan_id, Plan.model_validate(doc))
            self._geo[plan_id] = geo
        return geo

    def current_plan_id(self) -> int | None:
        flown = self.reader.flown_plan_id()
        if flown is not None:
            return flown
        plans = self.reader.plans()
        return plans[-1]["id"] if plans else None

    def swept(self, sorties: list[dict[str, Any]], plan_id: int | None) -> dict[str, Any] | None:
        if plan_id is None:
            return None
        geo = self.geometry(plan_id)
        if geo is None:
            return None
        lanes = {
            int(x)
            for s in sorties
            if s["plan_id"] == plan_id and s["role"] == "search"
            for x in s["swept"]
        }
        geo.add_flown(self.reader.sortie_waypoints(plan_id))
        total = len(geo.lanes)
        return {
            "plan_id": plan_id,
            "lanes": sorted(lanes),
            "pct": round(100.0 * len(lanes & set(geo.lanes)) / max(1, total), 1),
            "geometry": geo.swept_area(lanes),
        }

    # ------------------------------------------------------------------ snapshot
    def snapshot(self) -> dict[str, Any]:
        """Everything a browser needs to draw the operation, from the database."""
        r = self.reader
        sorties = r.sorties()
        plan_id = self.current_plan_id()
        hits = r.hits()
        teams = r.teams()
        return {
            "type": "snapshot",
            "ts": time.time(),
            "operation": r.operation(),
            "plans": r.plans(),
            "current_plan_id": plan_id,
            "sorties": sorties,
            "swept": self.swept(sorties, plan_id),
            "tracks": r.recent_tracks(),
            "hits": hits,
            "overwatch": r.overwatch(),
            "teams": guidance(teams, hits),
            "events": r.recent_events(),
            **self.live(),
        }

    # ------------------------------------------------------------------ deltas
    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.poll_s)
            try:
                msgs = await asyncio.to_thread(self.tick)
            except Exception:  # a locked or half-written database: try again next tick
                log.exception("reading the operation database failed")
                continue
            for m in msgs:
                self.hub.broadcast(m)

    def tick(self) -> list[dict[str, Any]]:
        r = self.reader
        version = r.data_version()
        if version == self._version:
            return []
        self._version = version
        self.ticks += 1
        out: list[dict[str, Any]] = []
        points = r.track_since(self._track_id)
        if points:
            self._track_id = points[-1]["id"]
            out.append({"type": "tracks", "items": points})
        plans = r.plans()
        if len(plans) != self._plans:
            self._plans = len(plans)
            out.append({"type": "plans", "items": plans, "current_plan_id": self.current_plan_id()})
        sorties = r.sorties()
        sig = tuple((s["id"], s["status"], s["progress"], len(s["swept"])) for s in sorties)
        if sig != self._sortie_sig:
            self._sortie_sig = sig
            plan_id = self.current_plan_id()
            out.append({"type": "sorties", "items": sorties})
            out.append({"type": "swept", "swept": self.swept(sorties, plan_id)})
        acks = r.acks_since(self._ack_rowid)
        if acks:
            self._ack_rowid = acks[-1]["rowid"]
            out.append({"type": "acks", "items": acks})
        changed = r.hits(since=self._hits_since - 1.0)
        if acks:
            seen = {h["id"] for h in changed}
            extra = [a["hit_id"] for a in acks if a["hit_id"] not in seen]
            if extra:
                changed += r.hits(ids=extra)
        fresh = [h for h in changed if self._hit_sig.get(h["id"]) != _hit_sig(h)]
        if changed:
            self._hits_since = max(self._hits_since, max(h["updated_at"] for h in changed))
        for h in fresh:
            self._hit_sig[h["id"]] = _hit_sig(h)
        if fresh:
            out.append({"type": "hits", "items": fresh})
        overwatch = r.overwatch()
        if overwatch != self._overwatch:
            self._overwatch = overwatch
            out.append({"type": "overwatch", "items": overwatch})
        events = r.events_since(self._event_id)
        if events:
            self._event_id = events[-1]["id"]
            log_events = [e for e in events if e["kind"] != TEAM_EVENT]
            if log_events:
                out.append({"type": "events", "items": log_events})
        if (events and any(e["kind"] == TEAM_EVENT for e in events)) or (
            fresh and any(h["status"] for h in fresh)
        ):
            out.append({"type": "teams", "items": guidance(r.teams(), r.hits())})
        return out


def _hit_sig(h: dict[str, Any]) -> tuple[Any, ...]:
    return (h["revision"], h["status"], h["status_by"], h["has_chip"])
