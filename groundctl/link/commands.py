"""The MAVLink command protocol, ground side (COMMAND_LONG / COMMAND_INT + COMMAND_ACK).

An ACK matches when it comes from the target (sysid, compid), names the same command and,
if it carries a target (MAVLink 2 extension), targets us. Per result:

- ACCEPTED: done.
- IN_PROGRESS: keep waiting (no resend) for the final ACK, reporting `progress` (0-100).
- TEMPORARILY_REJECTED: retry with exponential backoff, then CommandDenied.
- DENIED / FAILED / UNSUPPORTED / CANCELLED / ...: CommandDenied, with the STATUSTEXT the
  vehicle sent just before as the reason (pre-arm failures are explained that way).
- no ACK: resend after `timeout_s` (COMMAND_LONG with `confirmation` incremented), up to
  `retries` times, then Timeout.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable, Sequence

from groundctl.link.errors import (
    MAV_RESULT_NAMES,
    CommandDenied,
    LinkLostError,
    Timeout,
    UnsupportedError,
)
from groundctl.link.link import MavLink, mavlink2

__all__ = ["command_name", "send_command"]

ACCEPTED = mavlink2.MAV_RESULT_ACCEPTED
IN_PROGRESS = mavlink2.MAV_RESULT_IN_PROGRESS
TEMP_REJECTED = mavlink2.MAV_RESULT_TEMPORARILY_REJECTED
UNSUPPORTED = mavlink2.MAV_RESULT_UNSUPPORTED


def command_name(command: int) -> str:
    entry = mavlink2.enums["MAV_CMD"].get(command)
    return entry.name.removeprefix("MAV_CMD_") if entry else str(command)


async def send_command(
    link: MavLink,
    sysid: int,
    compid: int,
    command: int,
    params: Sequence[float] = (),
    *,
    use_int: bool = False,
    frame: int = mavlink2.MAV_FRAME_GLOBAL,
    timeout_s: float = 1.5,
    retries: int = 5,
    in_progress_timeout_s: float = 60.0,
    on_progress: Callable[[int], None] | None = None,
) -> int:
    """Send a command and wait for its final ACK; return the MAV_RESULT (always ACCEPTED).

    With `use_int`, params 5 and 6 are lat/lon in degrees (sent ×1e7) and 7 the altitude.
    """
    p = [float(x) for x in params] + [0.0] * (7 - len(params))
    name = command_name(command)
    key = (sysid, command)
    # One exchange per (vehicle, command id) at a time: two in flight could not be told apart.
    lock = link.command_locks.setdefault(key, asyncio.Lock())
    async with lock:
        sent_at = time.monotonic()
        confirmation = 0
        rejected = 0
        with link.collect(sysid, ["COMMAND_ACK"]) as acks:

            def send() -> None:
                if use_int:
                    x = 0 if math.isnan(p[4]) else round(p[4] * 1e7)
                    y = 0 if math.isnan(p[5]) else round(p[5] * 1e7)
                    msg = mavlink2.MAVLink_command_int_message(
                        sysid, compid, frame, command, 0, 0, p[0], p[1], p[2], p[3], x, y, p[6]
                    )
                else:
                    msg = mavlink2.MAVLink_command_long_message(
                        sysid, compid, command, min(confirmation, 255), *p
                    )
                link.send(msg, sysid)

            send()
            deadline = time.monotonic() + timeout_s
            in_progress = False
            while True:
                remaining = deadline - time.monotonic()
                ack = None
                if remaining > 0:
                    try:
                        ack = await asyncio.wait_for(acks.get(), remaining)
                    except TimeoutError:
                        ack = None
                if ack is None:
                    if time.monotonic() < deadline:
                        continue
                    if in_progress:
                        raise Timeout(
                            f"vehicle {sysid}: {name} in progress but no final answer in "
                            f"{in_progress_timeout_s:.0f} s"
                        )
                    if confirmation >= retries:
                        rec = link.vehicles.get(sysid)
                        if rec is not None and not rec.link_ok:
                            raise LinkLostError(f"vehicle {sysid}: link lost during {name}")
                        raise Timeout(
                            f"vehicle {sysid}: no COMMAND_ACK for {name} after {retries + 1} "
                            f"tries {timeout_s:.1f} s apart"
                        )
                    confirmation += 1
                    send()
                    deadline = time.monotonic() + timeout_s
                    continue
                if ack.command != command:
                    continue
                tgt_sys = getattr(ack, "target_system", 0)
                tgt_comp = getattr(ack, "target_component", 0)
                if tgt_sys not in (0, link.gcs_sysid) or tgt_comp not in (0, link.gcs_compid):
                    continue  # another ground station's command
                result = ack.result
                if result == ACCEPTED:
                    return result
                if result == IN_PROGRESS:
                    in_progress = True
                    if on_progress is not None and ack.progress != 255:
                        on_progress(int(ack.progress))
                    deadline = time.monotonic() + in_progress_timeout_s
                    continue
                if result == TEMP_REJECTED and rejected < retries:
                    rejected += 1
                    await asyncio.sleep(min(0.25 * 2**rejected, 4.0))
                    confirmation += 1
                    sent_at = time.monotonic()
                    send()
                    deadline = time.monotonic() + timeout_s
                    continue
                # Give a STATUSTEXT sent together with the refusal a moment to arrive.
                await asyncio.sleep(0.05)
                reason = link.recent_statustext(sysid, sent_at - 1.0)
                cls = UnsupportedError if result == UNSUPPORTED else CommandDenied
                if result not in MAV_RESULT_NAMES:
                    reason = reason or f"unknown MAV_RESULT {result}"
                raise cls(sysid, name, result, reason, resent=confirmation > 0)
