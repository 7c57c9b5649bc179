"""The mission protocol, vehicle side: upload, download and clear of mission, fence, rally.

Every item is judged as it arrives by the flavour's rules (`sim.conformance`), with the
MAV_MISSION_RESULT the real autopilot answers; PX4's float/int mode, its kept mission index
and its MISSION_SET_CURRENT handling are reproduced (see `sim.conformance` for the sources).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from sim import conformance as cf
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

    @property
    def rules(self) -> cf.Rules:
        return cf.RULES[self.flavour]

    _int_mode_flag: bool
    # PX4's navigator answers an upload that changed the mission a moment later (ticks left,
    # the index it names); a MISSION_SET_CURRENT in between is overtaken: MISSION_CURRENT
    # names that index (reported, while the index is still `internal`) until the next one.
    _nav_answer: tuple[int, int] | None = None
    _stale_current: tuple[int, int] | None = None
    NAV_ANSWER_TICKS = 2

    def _int_mode(self) -> bool:
        return self._int_mode_flag

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
        if msg.count > self.rules.capacity[mtype]:
            self._upload = None
            self._mission_ack(requester, M.MAV_MISSION_NO_SPACE, mtype)
            return
        if msg.count == 0:
            self._upload = None
            self._store_plan(mtype, [], requester)
            return
        self._upload = Upload(mtype, msg.count, [], 0, 0, 0.0, requester)
        self._request_item(self._upload)

    def _request_item(self, up: Upload) -> None:
        up.deadline_wall = self.clock.wall() + MISSION_RETRY_WALL_S
        # PX4 asks in the mode of the last item message it got (float until a _INT one).
        request = (
            M.MAVLink_mission_request_int_message
            if self._int_mode()
            else M.MAVLink_mission_request_message
        )
        self.send(request(*up.requester, up.next_seq, up.mission_type))

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
        if self.flavour == "px4":
            self._int_mode_flag = is_int
        if msg.seq != up.next_seq:
            return  # a duplicate or a stale item: the pending request stands
        item = ms.Item.from_msg(msg, is_int)
        problem = cf.check_item(self.rules, item, is_int, mtype)
        if problem is None and mtype in self.storage_failed:
            self._upload = None
            self.statustext(M.MAV_SEVERITY_CRITICAL, "Unable to write on micro SD")
            self._mission_ack(up.requester, M.MAV_MISSION_ERROR, mtype)
            return
        if problem is not None:
            code, reason = problem
            self._upload = None
            text = "IGN MISSION_ITEM: Invalid item" if self.flavour == "px4" else reason
            self.statustext(M.MAV_SEVERITY_CRITICAL, text)
            self._mission_ack(up.requester, code, mtype)
            return
        up.items.append(item)
        up.next_seq += 1
        up.retries = 0
        if up.next_seq < up.count:
            self._request_item(up)
            return
        self._upload = None
        self._store_plan(mtype, up.items, up.requester)

    def load_plan(self, items: list[ms.Item], mission_type: int = ms.MISSION) -> int:
        """Store a plan in-process, as a completed upload would; returns its opaque id."""
        items = [
            dataclasses.replace(it, seq=i, mission_type=mission_type) for i, it in enumerate(items)
        ]
        self._store_plan(mission_type, items, (0, 0))
        return self.plan_ids[mission_type]

    def _store_plan(self, mtype: int, items: list[ms.Item], requester: tuple[int, int]) -> None:
        new_id = ms.opaque_id(items)
        unchanged = new_id == self.plan_ids[mtype] and len(items) == len(self.plans[mtype])
        self.plans[mtype] = items
        self.plan_ids[mtype] = new_id
        if mtype == ms.FENCE:
            self.fence = ms.build_fence(items, self.to_local)
            self.fence_breached = False
        if mtype == ms.MISSION and not (self.flavour == "px4" and unchanged):
            self._jump_left.clear()
            self._item_phase = ""
            flagged = next((it.seq for it in items if it.current), None)
            if self.flavour == "px4":
                # PX4 keeps the previous index, capped (mission_base.cpp). Its MISSION_CURRENT
                # reads -1 (65535) after the upload while that index is 0 (its navigator
                # publishes no change then), as PX4 SITL v1.16 does.
                self.mis_seq = (
                    flagged if flagged is not None else min(self.mis_seq, max(len(items) - 1, 0))
                )
                self.mis_seq_unknown = flagged is None and bool(items) and self.mis_seq == 0
                self._stale_current = None
                self._nav_answer = (
                    (self.NAV_ANSWER_TICKS, self.mis_seq) if not self.mis_seq_unknown else None
                )
                self.mission_activated = False
                if self.mode != Mode.MISSION or not self.armed:
                    self.mis_state = (
                        M.MISSION_STATE_NOT_STARTED if items else M.MISSION_STATE_NO_MISSION
                    )
            elif self.mode != Mode.MISSION or not self.armed:
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
        if self.flavour == "px4" and mtype in (ms.MISSION, ms.FENCE) and not unchanged:
            # PX4 checks the mission against the fence whenever either changes.
            bad = ms.fence_violation(self.plans[ms.MISSION], self.fence, self.to_local)
            if bad is not None:
                self.statustext(
                    M.MAV_SEVERITY_CRITICAL, f"Geofence violation for waypoint {bad + 1}"
                )

    def _mission_ack(
        self, requester: tuple[int, int], result: int, mtype: int, opaque: int = 0
    ) -> None:
        self.send(M.MAVLink_mission_ack_message(*requester, result, mtype, opaque))

    def mission_tick(self) -> None:
        """Re-request a missing item when the ground station went quiet (wall time); PX4's
        navigator answers a changed mission."""
        if self._nav_answer is not None:
            left, seq = self._nav_answer
            self._nav_answer = (left - 1, seq) if left > 1 else None
            if left <= 1 and seq != self.mis_seq:
                self._stale_current = (seq, self.mis_seq)
                self.send(self._mission_current())
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
        is_int = msg.get_type() == "MISSION_REQUEST_INT"
        if self.flavour == "px4":
            self._int_mode_flag = is_int  # a download sets PX4's mode too
        items = self._download_items(mtype)
        if not 0 <= msg.seq < len(items):
            self._mission_ack(self._requester(msg), M.MAV_MISSION_INVALID_SEQUENCE, mtype)
            return
        it = items[msg.seq]
        if self.flavour == "px4":
            it = _px4_readback(it, is_int)
        req = self._requester(msg)
        current = 1 if (mtype == ms.MISSION and it.seq == self.mis_seq) else 0
        params = (it.param1, it.param2, it.param3, it.param4)
        head = (*req, it.seq, it.frame, it.command, current, it.autocontinue, *params)
        if is_int:
            self.send(M.MAVLink_mission_item_int_message(*head, it.x, it.y, it.z, mtype))
        else:
            msg_f = M.MAVLink_mission_item_message(*head, it.x / 1e7, it.y / 1e7, it.z, mtype)
            self.send(msg_f)

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
        if self.flavour == "px4":
            # PX4: no ACK either way; MISSION_CURRENT says it took, a STATUSTEXT that not.
            if msg.seq < len(self.plans[ms.MISSION]) and self._upload is None:
                self._set_current(msg.seq)
            else:
                self.statustext(M.MAV_SEVERITY_CRITICAL, "WPM: WP CURR CMD: Not in list")
            return
        if self._cmd_set_mission_current([float(msg.seq), 0, 0, 0, 0, 0, 0], None) != ACCEPTED:
            self._mission_ack(self._requester(msg), M.MAV_MISSION_INVALID_SEQUENCE, 0)

    def _set_current(self, seq: int) -> None:
        self.mis_seq = seq
        self.mis_seq_unknown = False
        self._stale_current = None
        self._item_phase = ""
        if self.mis_state == M.MISSION_STATE_COMPLETE:
            self.mis_state = M.MISSION_STATE_PAUSED
        self.send(self._mission_current())

    def _on_mission_ack(self, msg: Any) -> None:
        up = self._upload
        if up is None or getattr(msg, "mission_type", 0) != up.mission_type:
            return
        if msg.type == M.MAV_MISSION_UNSUPPORTED and self.flavour == "px4":
            # The ground station cannot answer in this mode (MAVSDK refuses a float
            # MISSION_REQUEST so): PX4 switches mode and asks again.
            self._int_mode_flag = not self._int_mode_flag
            self._request_item(up)
        elif msg.type == M.MAV_MISSION_OPERATION_CANCELLED:
            self._upload = None

    def _on_set_position_target_global_int(self, msg: Any) -> None:
        if self.mode != Mode.OFFBOARD or not self.armed or self.landed:
            return
        if msg.type_mask & 0b111:
            return
        frame = msg.coordinate_frame
        p = [0.0, 0.0, 0.0, 0.0, msg.lat_int / 1e7, msg.lon_int / 1e7, msg.alt]
        self.target = self._position_from(p, frame)


def _px4_readback(it: ms.Item, int_mode: bool) -> ms.Item:
    """An item as PX4 hands it back (format_mavlink_mission_item): a positional item in the
    mode's own frame (_INT in int mode), only the params it stores."""
    if it.frame == ms.FRAME_MISSION:
        return it
    relative = it.frame in (ms.FRAME_GLOBAL_RELATIVE_ALT, ms.FRAME_GLOBAL_RELATIVE_ALT_INT)
    if relative:
        frame = ms.FRAME_GLOBAL_RELATIVE_ALT_INT if int_mode else ms.FRAME_GLOBAL_RELATIVE_ALT
    else:
        frame = ms.FRAME_GLOBAL_INT if int_mode else ms.FRAME_GLOBAL
    kept = cf.PX4_KEPT_PARAMS.get(it.command, ())
    p = [it.param1, it.param2, it.param3, it.param4]
    p = [v if i in kept else 0.0 for i, v in enumerate(p)]
    return dataclasses.replace(it, frame=frame, param1=p[0], param2=p[1], param3=p[2], param4=p[3])
