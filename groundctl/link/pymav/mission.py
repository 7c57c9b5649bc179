"""Mission, geofence and rally plans of the pymavlink backend (home item on ArduPilot)."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from groundctl.errors import LinkError
from groundctl.link.link import mavlink2
from groundctl.link.missionproto import clear_plan, download_plan, upload_plan
from groundctl.link.types import (
    Autopilot,
    MissionItem,
    MissionType,
    coerce_items,
    mission_hash,
    same_items,
)
from groundctl.link.vehicle import MissionPlans

if TYPE_CHECKING:
    from groundctl.link.pymav import PymavVehicle

log = logging.getLogger(__name__)

__all__ = ["PymavMissions"]

C = mavlink2


class PymavMissions(MissionPlans):
    def __init__(self, v: PymavVehicle) -> None:
        self.v = v
        # content hash -> opaque id the vehicle gave for it, per plan type
        self.ids: dict[tuple[int, str], int] = {}
        self.last_upload: dict[int, tuple[str, int, int]] = {}  # type -> (hash, id, count)

    def _home_item(self) -> MissionItem:
        h = self.v._tracker.home
        lat, lon, alt = (h.lat, h.lon, h.alt_amsl_m) if h else (0.0, 0.0, 0.0)
        return MissionItem(
            0,
            C.MAV_FRAME_GLOBAL,
            C.MAV_CMD_NAV_WAYPOINT,
            x=round(lat * 1e7),
            y=round(lon * 1e7),
            z=alt,
        )

    def _with_home(self, items: list[MissionItem], mt: MissionType) -> list[MissionItem]:
        if self.v.rec.autopilot != Autopilot.ARDUPILOT or mt != MissionType.MISSION:
            return items
        out = [self._home_item()]
        out += [MissionItem(**{**it.__dict__, "seq": i + 1}) for i, it in enumerate(items)]
        return out

    async def upload(
        self, items: Iterable[Any], mission_type: MissionType = MissionType.MISSION
    ) -> int:
        v = self.v
        v._check_usable()
        mt = MissionType(mission_type)
        ours = _coerce(items, mt)
        wire = self._with_home(ours, mt)
        opaque = await upload_plan(v.link, v.sysid, v.rec.compid, wire, mt)
        h = mission_hash(ours)
        if opaque:
            self.ids[(int(mt), h)] = opaque
        self.last_upload[int(mt)] = (h, opaque, len(ours))
        if mt == MissionType.MISSION:
            v._tracker.reached.clear()
            v._tracker.mission_total = len(ours)
        log.info(
            "vehicle %d: uploaded %d %s items (id %#x)", v.sysid, len(ours), mt.name.lower(), opaque
        )
        return opaque

    async def upload_if_changed(
        self,
        items: Iterable[Any],
        mission_type: MissionType = MissionType.MISSION,
        known_id: int | None = None,
    ) -> bool:
        items = list(items)
        if await self.matches(items, mission_type, known_id=known_id):
            return False
        await self.upload(items, mission_type)
        return True

    async def download(self, mission_type: MissionType = MissionType.MISSION) -> list[MissionItem]:
        v = self.v
        v._check_usable()
        mt = MissionType(mission_type)
        items = await download_plan(v.link, v.sysid, v.rec.compid, mt)
        if v.rec.autopilot == Autopilot.ARDUPILOT and mt == MissionType.MISSION and items:
            items = [MissionItem(**{**it.__dict__, "seq": i}) for i, it in enumerate(items[1:])]
        return items

    async def clear(self, mission_type: MissionType = MissionType.MISSION) -> None:
        v = self.v
        v._check_usable()
        await clear_plan(v.link, v.sysid, v.rec.compid, MissionType(mission_type))
        self.last_upload.pop(int(mission_type), None)

    async def matches(
        self,
        items: Iterable[Any],
        mission_type: MissionType = MissionType.MISSION,
        known_id: int | None = None,
    ) -> bool:
        mt = MissionType(mission_type)
        ours = _coerce(items, mt)
        h = mission_hash(ours)
        t = self.v._tracker
        held_id = {
            MissionType.MISSION: t.mission_id,
            MissionType.FENCE: t.fence_id,
            MissionType.RALLY: t.rally_id,
        }[mt]
        if held_id:
            expected = known_id or self.ids.get((int(mt), h))
            if expected:
                return expected == held_id
        if mt == MissionType.MISSION and t.mission_total and t.mission_total != len(ours):
            return False
        return same_items(await self.download(mt), ours)


def _coerce(items: Iterable[Any], mt: MissionType) -> list[MissionItem]:
    try:
        return coerce_items(items, mt)
    except ValueError as e:
        raise LinkError(str(e)) from e
