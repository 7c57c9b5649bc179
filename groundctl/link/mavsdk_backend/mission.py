"""Mission, geofence and rally plans of the MAVSDK backend (its mission_raw plugin)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from groundctl.errors import LinkError
from groundctl.link.types import MissionItem, MissionType, coerce_items, same_items
from groundctl.link.vehicle import MissionPlans

if TYPE_CHECKING:
    from groundctl.link.mavsdk_backend import MavsdkVehicle

__all__ = ["MavsdkMissions"]


class MavsdkMissions(MissionPlans):
    def __init__(self, v: MavsdkVehicle) -> None:
        self.v = v

    @staticmethod
    def _to_ms(items: list[MissionItem]) -> list[Any]:
        from mavsdk.plugins.mission_raw import MissionItem as MsItem

        return [
            MsItem(
                it.seq,
                it.frame,
                it.command,
                1 if it.seq == 0 else 0,
                it.autocontinue,
                it.param1,
                it.param2,
                it.param3,
                it.param4,
                it.x,
                it.y,
                it.z,
                int(it.mission_type),
            )
            for it in items
        ]

    async def upload(
        self, items: Iterable[Any], mission_type: MissionType = MissionType.MISSION
    ) -> int:
        mt = MissionType(mission_type)
        try:
            ours = coerce_items(items, mt)
        except ValueError as e:
            raise LinkError(str(e)) from e
        m = self.v._mis
        fn = {
            MissionType.MISSION: m.upload_mission,
            MissionType.FENCE: m.upload_geofence,
            MissionType.RALLY: m.upload_rally_points,
        }[mt]
        await self.v.call(f"{mt.name.lower()} upload", fn(self._to_ms(ours)))
        if mt == MissionType.MISSION:
            self.v._s.reached.clear()
        return 0

    async def upload_if_changed(
        self,
        items: Iterable[Any],
        mission_type: MissionType = MissionType.MISSION,
        known_id: int | None = None,
    ) -> bool:
        items = list(items)
        if await self.matches(items, mission_type, known_id):
            return False
        await self.upload(items, mission_type)
        return True

    async def download(self, mission_type: MissionType = MissionType.MISSION) -> list[MissionItem]:
        mt = MissionType(mission_type)
        m = self.v._mis
        fn = {
            MissionType.MISSION: m.download_mission,
            MissionType.FENCE: m.download_geofence,
            MissionType.RALLY: m.download_rallypoints,
        }[mt]
        got = await self.v.call(f"{mt.name.lower()} download", fn())
        return [
            MissionItem(
                i,
                g.frame,
                g.command,
                g.param1,
                g.param2,
                g.param3,
                g.param4,
                g.x,
                g.y,
                g.z,
                g.current,
                g.autocontinue,
                mt,
            )
            for i, g in enumerate(got)
        ]

    async def clear(self, mission_type: MissionType = MissionType.MISSION) -> None:
        if MissionType(mission_type) != MissionType.MISSION:
            await self.upload([], mission_type)
            return
        await self.v.call("clear mission", self.v._mis.clear_mission())

    async def matches(
        self,
        items: Iterable[Any],
        mission_type: MissionType = MissionType.MISSION,
        known_id: int | None = None,
    ) -> bool:
        # MAVSDK exposes no opaque mission id: compare content.
        mt = MissionType(mission_type)
        ours = coerce_items(items, mt)
        return same_items(await self.download(mt), ours)
