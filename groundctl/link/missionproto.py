"""The MAVLink mission protocol, ground side, for mission, fence and rally plans.

Upload: MISSION_COUNT, then answer every MISSION_REQUEST_INT or MISSION_REQUEST the vehicle
sends — repeated requests included, a lossy radio makes them — until MISSION_ACK. Every answer
is a MISSION_ITEM_INT, as the spec recommends: PX4 starts a transfer in float mode (asks with
MISSION_REQUEST) and switches to int mode on the first MISSION_ITEM_INT, whereas an _INT frame
in a float MISSION_ITEM is refused (UNSUPPORTED_FRAME).
When nothing arrives the last message is re-sent: after `timeout_s` (1500 ms per the spec)
until the round trip is measured, then after 4 round trips (at least 50 ms), since on a
lossy link most stalls are one lost item; 5 × 1500 ms of silence ends the transfer.
Download: MISSION_REQUEST_LIST -> MISSION_COUNT, then MISSION_REQUEST_INT per item with a
per-item timeout (250 ms per the spec, stretched to the measured round trip on slow links),
MISSION_ACK at the end. An item is asked for up to 16 times while heartbeats still arrive:
one request and its answer both get through only 64 % of the time at 20 % loss, and six
tries would fail a 100-item download one time in five.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence

from groundctl.link.commands import command_name
from groundctl.link.errors import LinkLostError, MissionTransferError, Timeout
from groundctl.link.ext import ext_u32
from groundctl.link.link import MavLink, mavlink2
from groundctl.link.types import MissionItem, MissionType

__all__ = ["clear_plan", "download_plan", "mission_result_name", "set_current", "upload_plan"]

ACK_TIMEOUT_S = 1.5
ITEM_TIMEOUT_S = 0.25
RETRIES = 5
ITEM_RETRIES = 15


def mission_result_name(code: int) -> str:
    entry = mavlink2.enums["MAV_MISSION_RESULT"].get(code)
    return entry.name.removeprefix("MAV_MISSION_") if entry else str(code)


def _kind(mission_type: int) -> str:
    return {0: "mission", 1: "geofence", 2: "rally points"}.get(
        mission_type, f"type {mission_type}"
    )


def _check_link(link: MavLink, sysid: int, what: str) -> None:
    rec = link.vehicles.get(sysid)
    if rec is not None and not rec.link_ok:
        raise LinkLostError(f"vehicle {sysid}: link lost during {what}")


def _item_msg(sysid: int, compid: int, it: MissionItem) -> object:
    return mavlink2.MAVLink_mission_item_int_message(
        sysid, compid, it.seq, it.frame, it.command, it.current, it.autocontinue,
        it.param1, it.param2, it.param3, it.param4, it.x, it.y, it.z, int(it.mission_type),
    )  # fmt: skip


def _ours(link: MavLink, m: object, mission_type: int) -> bool:
    return (
        getattr(m, "target_system", link.gcs_sysid) in (0, link.gcs_sysid)
        and getattr(m, "mission_type", 0) == mission_type
    )


def frame_name(frame: int) -> str:
    entry = mavlink2.enums["MAV_FRAME"].get(frame)
    return entry.name.removeprefix("MAV_FRAME_") if entry else str(frame)


def _refusal(
    link: MavLink,
    sysid: int,
    what: str,
    result: int,
    items: Sequence[MissionItem],
    requested: set[int],
    since_s: float,
) -> str:
    """The refusal in one line: which item, its command and frame, and the vehicle's reason
    (MAV_MISSION_RESULT and the STATUSTEXT it sent with it)."""
    text = f"vehicle {sysid}: {what} refused: {mission_result_name(result)}"
    if requested:
        it = items[max(requested)]
        text += f" at item {it.seq} ({command_name(it.command)} in {frame_name(it.frame)})"
    reason = link.recent_statustext(sysid, since_s)
    return text + (f"; the vehicle said: {reason}" if reason else "")


async def upload_plan(
    link: MavLink,
    sysid: int,
    compid: int,
    items: Sequence[MissionItem],
    mission_type: MissionType = MissionType.MISSION,
    *,
    timeout_s: float = ACK_TIMEOUT_S,
    retries: int = RETRIES,
) -> int:
    """Upload `items` (already numbered 0..n-1); return the ACK's opaque id (0 if none)."""
    what = f"{_kind(mission_type)} upload"
    mt = int(mission_type)
    count = len(items)
    requested: set[int] = set()
    with link.collect(sysid, ["MISSION_REQUEST_INT", "MISSION_REQUEST", "MISSION_ACK"]) as q:
        last: object = mavlink2.MAVLink_mission_count_message(sysid, compid, count, mt)
        link.send(last, sysid)
        sent_at = t0 = time.monotonic()
        rtt_s: float | None = None
        resent = False
        silent_s = 0.0
        while True:
            # Resend sooner than the spec's 1.5 s once the round trip is known: on a lossy
            # radio most stalls are one lost item, and the vehicle ignores duplicates.
            wait_s = timeout_s if rtt_s is None else min(timeout_s, max(0.05, 4 * rtt_s))
            try:
                m = await asyncio.wait_for(q.get(), wait_s)
            except TimeoutError:
                silent_s += wait_s
                _check_link(link, sysid, what)
                if silent_s > (retries + 1) * timeout_s:
                    link.send(
                        mavlink2.MAVLink_mission_ack_message(
                            sysid, compid, mavlink2.MAV_MISSION_OPERATION_CANCELLED, mt
                        ),
                        sysid,
                    )
                    raise Timeout(
                        f"vehicle {sysid}: {what} stalled: it requested {len(requested)} of "
                        f"{count} items, then nothing for {silent_s:.1f} s"
                    ) from None
                link.send(last, sysid)  # our message or its request was lost: say it again
                resent = True
                continue
            if not _ours(link, m, mt):
                continue
            silent_s = 0.0
            t = m.get_type()
            if t == "MISSION_ACK":
                if m.type == mavlink2.MAV_MISSION_ACCEPTED:
                    if count and not requested:
                        continue  # an ACK before any request is a stale one of an earlier transfer
                    return ext_u32(m, "opaque_id")
                if m.type == mavlink2.MAV_MISSION_OPERATION_CANCELLED and not requested:
                    continue  # the cancel of a previous attempt
                if m.type == mavlink2.MAV_MISSION_INVALID_SEQUENCE:
                    # ArduPilot answers a duplicate (resent) item so; its request stands.
                    continue
                await asyncio.sleep(0.1)  # the STATUSTEXT saying why may trail the ACK
                raise MissionTransferError(
                    _refusal(link, sysid, what, m.type, items, requested, t0), m.type
                )
            seq = m.seq
            if not 0 <= seq < count:
                continue
            if seq not in requested and not resent:
                # Karn: only clean exchanges measure the round trip, not recovered ones.
                sample = time.monotonic() - sent_at
                rtt_s = sample if rtt_s is None else 0.8 * rtt_s + 0.2 * sample
            requested.add(seq)
            it = items[seq]
            last = _item_msg(sysid, compid, it)
            link.send(last, sysid)
            sent_at = time.monotonic()
            resent = False


async def download_plan(
    link: MavLink,
    sysid: int,
    compid: int,
    mission_type: MissionType = MissionType.MISSION,
    *,
    timeout_s: float = ACK_TIMEOUT_S,
    item_timeout_s: float = ITEM_TIMEOUT_S,
    retries: int = RETRIES,
    item_retries: int = ITEM_RETRIES,
) -> list[MissionItem]:
    what = f"{_kind(mission_type)} download"
    mt = int(mission_type)
    with link.collect(sysid, ["MISSION_COUNT", "MISSION_ITEM_INT", "MISSION_ITEM"]) as q:
        req = mavlink2.MAVLink_mission_request_list_message(sysid, compid, mt)
        count = None
        t0 = time.monotonic()
        for _ in range(retries + 1):
            link.send(req, sysid)
            deadline = time.monotonic() + timeout_s
            while count is None and (left := deadline - time.monotonic()) > 0:
                try:
                    m = await asyncio.wait_for(q.get(), left)
                except TimeoutError:
                    break
                if m.get_type() == "MISSION_COUNT" and _ours(link, m, mt):
                    count = m.count
            if count is not None:
                break
            _check_link(link, sysid, what)
        if count is None:
            raise Timeout(f"vehicle {sysid}: {what}: no MISSION_COUNT after {retries + 1} requests")
        # Stretch the per-item timeout to the link's round trip (200 ms latency each way
        # would otherwise make every item time out once).
        rtt = time.monotonic() - t0
        per_item = max(item_timeout_s, 1.5 * rtt)
        items: list[MissionItem] = []
        for seq in range(count):
            msg = mavlink2.MAVLink_mission_request_int_message(sysid, compid, seq, mt)
            got = None
            for _ in range(item_retries + 1):
                link.send(msg, sysid)
                deadline = time.monotonic() + per_item
                while got is None and (left := deadline - time.monotonic()) > 0:
                    try:
                        m = await asyncio.wait_for(q.get(), left)
                    except TimeoutError:
                        break
                    if (
                        m.get_type() in ("MISSION_ITEM_INT", "MISSION_ITEM")
                        and m.seq == seq
                        and _ours(link, m, mt)
                    ):
                        got = m
                if got is not None:
                    break
                _check_link(link, sysid, what)
            if got is None:
                link.send(
                    mavlink2.MAVLink_mission_ack_message(
                        sysid, compid, mavlink2.MAV_MISSION_OPERATION_CANCELLED, mt
                    ),
                    sysid,
                )
                raise Timeout(
                    f"vehicle {sysid}: {what}: item {seq} of {count} not received after "
                    f"{item_retries + 1} requests"
                )
            x, y = got.x, got.y
            if got.get_type() == "MISSION_ITEM":
                x, y = round(x * 1e7), round(y * 1e7)
            items.append(
                MissionItem(
                    seq=seq, frame=got.frame, command=got.command,
                    param1=got.param1, param2=got.param2, param3=got.param3, param4=got.param4,
                    x=int(x), y=int(y), z=got.z, current=got.current,
                    autocontinue=got.autocontinue, mission_type=MissionType(mt),
                )
            )  # fmt: skip
        link.send(
            mavlink2.MAVLink_mission_ack_message(sysid, compid, mavlink2.MAV_MISSION_ACCEPTED, mt),
            sysid,
        )
        return items


async def clear_plan(
    link: MavLink,
    sysid: int,
    compid: int,
    mission_type: MissionType = MissionType.MISSION,
    *,
    timeout_s: float = ACK_TIMEOUT_S,
    retries: int = RETRIES,
) -> None:
    what = f"{_kind(mission_type)} clear"
    mt = int(mission_type)
    with link.collect(sysid, ["MISSION_ACK"]) as q:
        for _ in range(retries + 1):
            link.send(mavlink2.MAVLink_mission_clear_all_message(sysid, compid, mt), sysid)
            deadline = time.monotonic() + timeout_s
            while (left := deadline - time.monotonic()) > 0:
                try:
                    m = await asyncio.wait_for(q.get(), left)
                except TimeoutError:
                    break
                if not _ours(link, m, mt):
                    continue
                if m.type == mavlink2.MAV_MISSION_ACCEPTED:
                    return
                raise MissionTransferError(
                    f"vehicle {sysid}: {what} refused: {mission_result_name(m.type)}", m.type
                )
            _check_link(link, sysid, what)
    raise Timeout(f"vehicle {sysid}: {what}: no MISSION_ACK after {retries + 1} tries")


async def set_current(
    link: MavLink,
    sysid: int,
    compid: int,
    seq: int,
    *,
    timeout_s: float = ACK_TIMEOUT_S,
    retries: int = RETRIES,
) -> None:
    """Make mission item `seq` (wire numbering) the current one with MISSION_SET_CURRENT.

    The vehicle answers with MISSION_CURRENT, not an ACK (PX4 v1.16 refuses the command form
    MAV_CMD_DO_SET_MISSION_CURRENT as UNSUPPORTED): the message is re-sent until a
    MISSION_CURRENT names `seq`. An index the vehicle does not hold is refused by STATUSTEXT.
    """
    with link.collect(sysid, ["MISSION_CURRENT"]) as q:
        for _ in range(retries + 1):
            sent_at = time.monotonic()
            link.send(mavlink2.MAVLink_mission_set_current_message(sysid, compid, seq), sysid)
            deadline = sent_at + timeout_s
            while (left := deadline - time.monotonic()) > 0:
                try:
                    m = await asyncio.wait_for(q.get(), left)
                except TimeoutError:
                    break
                if m.seq == seq:
                    return
            reason = link.recent_statustext(sysid, sent_at - 0.5)
            if "not in list" in reason.lower():
                raise MissionTransferError(
                    f"vehicle {sysid}: mission item {seq} cannot be made current: {reason}",
                    mavlink2.MAV_MISSION_INVALID_SEQUENCE,
                )
            _check_link(link, sysid, "set current mission item")
    raise Timeout(
        f"vehicle {sysid}: MISSION_CURRENT never named item {seq} after {retries + 1} "
        "MISSION_SET_CURRENT messages"
    )
