"""The mission protocol, vehicle side: upload, download and clear of mission, fence, rally."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from sim import mission as ms
from sim.mav import ACCEPTED, M
from sim.modes import Mode

# Mission protocol, vehicle side: re-request an item after this long (wall seconds; ground
# stations time out in wall time) and give up after this many re-requests.
MISSION_RETRY_WALL_S = 0.4
MISSION_MAX_RETRIES = 10


@dataclass
class Upload:
    mission_type: int
    count: int
    items: list[ms.Item]
    next_seq: int
    retries: int
    deadline_wall: float
    requester: tuple[int, int]


class MissionProtocolMixin:
    """Mission-protocol message handlers of `SimVehicle`."""

    def _on_mission_count(self, msg: Any) -> None:
        mtype = getattr(msg, "mission_type", 0)
        requester = self._requester(msg)
        if mtype not in ms.TYPES:
            self._mission_ack(requester, M.MAV_MISSION_UNSUPPORTED, mtype)
            return
        up = self._upload
        if (
            up is not None
            and up.mission_type == mtype
            and up.count == msg.count
            and up.next_seq == 0
        ):
            # The ground station repeated MISSION_COUNT (our first request was lost).
            self._request_item(up)
            return
        if msg.count == 0:
            self._upload = None
            self._store_plan(mtype, [], requester)
            return
        self._upload = Upload(mtype, msg.count, [], 0, 0, 0.0, requester)
        self._request_item(self._upload)

    def _request_item(self, up: Upload) -> None:
        up.deadline_wall = self.clock.wall() + MISSION_RETRY_WALL_S
        self.send(
            M.MAVLink_mission_request_int_message(*up.requester, up.next_seq, up.mission_type)
        )

    def _on_mission_item(self, msg: Any) -> None:
        is_int = msg.get_type() == "MISSION_ITEM_INT"
        mtype = getattr(msg, "mission_type", 0)
        up = self._upload
        if up is None or up.mission_type != mtype:
            last = self._last_upload
            if last is not None and last[0] == mtype and msg.seq == last[1] - 1:
                # Our MISSION_ACK was lost and the ground station resent the last item.
                self._mission_ack(last[3], M.MAV_MISSION_ACCEPTED, mtype, last[2])
            return
        if msg.seq != up.next_seq:
            return  # a duplicate or a stale item: the pending request stands
        up.items.append(ms.Item.from_msg(msg, is_int))
        up.next_seq += 1
        up.retries = 0
        if up.next_seq < up.count:
            self._request_item(up)
            return
        self._upload = None
        problem = ms.validate(up.items, mtype)
        if problem is not None:
            code, reason = problem
            self.statustext(M.MAV_SEVERITY_CRITICAL, f"Mission rejected: {reason}")
            self._mission_ack(up.requester, code, mtype)
            return
        self._store_plan(mtype, up.items, up.requester)

    def load_plan(self, items: list[ms.Item], mission_type: int = ms.MISSION) -> int:
        """Store a plan in-process, as a completed upload would; returns its opaque id."""
        items = [
            dataclasses.replace(it, seq=i, mission_type=mission_type) for i, it in enumerate(items)
        ]
        self._store_plan(mission_type, items, (0, 0))
        return self.plan_ids[mission_type]

    def _store_plan(self, mtype: int, items: list[ms.Item], requester: tuple[int, int]) -> None:
        self.plans[mtype] = items
        self.plan_ids[mtype] = ms.opaque_id(items)
        if mtype == ms.FENCE:
            self.fence = ms.build_fence(items, self.to_local)
            self.fence_breached = False
        if mtype == ms.MISSION:
            self._jump_left.clear()
            self._item_phase = ""
            if self.mode != Mode.MISSION or not self.armed:
                self.mis_seq = self._first_mission_seq()
                self.mis_state = (
                    M.MISSION_STATE_NOT_STARTED if items else M.MISSION_STATE_NO_MISSION
                )
            else:
                self.mis_seq = min(self.mis_seq, max(len(items) - 1, 0))
        self._last_upload = (mtype, len(items), self.plan_ids[mtype], requester)
        self._mission_ack(requester, M.MAV_MISSION_ACCEPTED, mtype, self.plan_ids[mtype])
        if mtype == ms.MISSION:
            self.send(self._mission_current())

    def _mission_ack(
        self, requester: tuple[int, int], result: int, mtype: int, opaque: int = 0
    ) -> None:
        self.send(M.MAVLink_mission_ack_message(*requester, result, mtype, opaque))

    def mission_tick(self) -> None:
        """Re-request a missing item when the ground station went quiet (wall time)."""
        up = self._upload
        if up is None or self.clock.wall() < up.deadline_wall:
            return
        up.retries += 1
        if up.retries > MISSION_MAX_RETRIES:
            self._upload = None
            self.statustext(M.MAV_SEVERITY_WARNING, "Mission upload timed out")
            self._mission_ack(up.requester, M.MAV_MISSION_OPERATION_CANCELLED, up.mission_type)
            return
        self._request_item(up)

    def _download_items(self, mtype: int) -> list[ms.Item]:
        items = self.plans[mtype]
        if self.flavour == "ardupilot" and mtype == ms.MISSION and items and self.home is not None:
            lat, lon, alt = self.home_latlon  # type: ignore[misc]
            items = [
                ms.Item(
                    0,
                    ms.FRAME_GLOBAL_INT,
                    ms.NAV_WAYPOINT,
                    0,
                    1,
                    0,
                    0,
                    0,
                    0,
                    int(lat * 1e7),
                    int(lon * 1e7),
                    alt,
                ),
                *items[1:],
            ]
        return items

    def _on_mission_request_list(self, msg: Any) -> None:
        mtype = getattr(msg, "mission_type", 0)
        if mtype not in ms.TYPES:
            self._mission_ack(self._requester(msg), M.MAV_MISSION_UNSUPPORTED, mtype)
            return
        items = self._download_items(mtype)
        self.send(
            M.MAVLink_mission_count_message(
                *self._requester(msg), len(items), mtype, self.plan_ids[mtype]
            )
        )

    def _on_mission_request(self, msg: Any) -> None:
        mtype = getattr(msg, "mission_type", 0)
        if mtype not in ms.TYPES:
            return
        items = self._download_items(mtype)
        if not 0 <= msg.seq < len(items):
            self._mission_ack(self._requester(msg), M.MAV_MISSION_INVALID_SEQUENCE, mtype)
            return
        it = items[msg.seq]
        req = self._requester(msg)
        current = 1 if (mtype == ms.MISSION and it.seq == self.mis_seq) else 0
        if msg.get_type() == "MISSION_REQUEST_INT":
            self.send(
                M.MAVLink_mission_item_int_message(
                    *req,
                    it.seq,
                    it.frame,
                    it.command,
                    current,
                    it.autocontinue,
                    it.param1,
                    it.param2,
                    it.param3,
                    it.param4,
                    it.x,
                    it.y,
                    it.z,
                    mtype,
                )
            )
        else:
            self.send(
                M.MAVLink_mission_item_message(
                    *req,
                    it.seq,
                    it.frame,
                    it.command,
                    current,
                    it.autocontinue,
                    it.param1,
                    it.param2,
                    it.param3,
                    it.param4,
                    it.x / 1e7,
                    it.y / 1e7,
                    it.z,
                    mtype,
                )
            )

    def _on_mission_clear_all(self, msg: Any) -> None:
        mtype = getattr(msg, "mission_type", 0)
        types = ms.TYPES if mtype == ms.ALL else (mtype,)
        if mtype not in (*ms.TYPES, ms.ALL):
            self._mission_ack(self._requester(msg), M.MAV_MISSION_UNSUPPORTED, mtype)
            return
        for t in types:
            self.plans[t] = []
            self.plan_ids[t] = 0
            if t == ms.FENCE:
                self.fence = None
                self.fence_breached = False
            if t == ms.MISSION:
                self.mis_seq = 0
                self.mis_state = M.MISSION_STATE_NO_MISSION
        self._mission_ack(self._requester(msg), M.MAV_MISSION_ACCEPTED, mtype, 0)

    def _on_mission_set_current(self, msg: Any) -> None:
        if self._cmd_set_mission_current([float(msg.seq), 0, 0, 0, 0, 0, 0], None) != ACCEPTED:
            self._mission_ack(self._requester(msg), M.MAV_MISSION_INVALID_SEQUENCE, 0)

    def _on_mission_ack(self, msg: Any) -> None:
        pass

    def _on_set_position_target_global_int(self, msg: Any) -> None:
        if self.mode != Mode.OFFBOARD or not self.armed or self.landed:
            return
        if msg.type_mask & 0b111:
            return
        frame = msg.coordinate_frame
        p = [0.0, 0.0, 0.0, 0.0, msg.lat_int / 1e7, msg.lon_int / 1e7, msg.alt]
        self.target = self._position_from(p, frame)
