"""The pymavlink backend of `Vehicle`, for PX4 and ArduPilot, on a shared `MavLink`.

One module per capability, as MAVSDK splits its plugins: `telemetry`, `action`, `mission`,
`param`; this module is the vehicle that holds them and its link bookkeeping.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import Any

from groundctl.errors import LinkError
from groundctl.link import registry
from groundctl.link.commands import send_command
from groundctl.link.errors import DuplicateSysidError
from groundctl.link.link import MavLink, VehicleRecord, mavlink2
from groundctl.link.pymav.action import PymavAction
from groundctl.link.pymav.mission import PymavMissions
from groundctl.link.pymav.param import PymavParams
from groundctl.link.pymav.telemetry import PymavTelemetry, Tracker
from groundctl.link.types import Identity, LinkEvent, LinkEventKind
from groundctl.link.vehicle import Vehicle

log = logging.getLogger(__name__)

__all__ = ["PymavVehicle"]

C = mavlink2


class PymavVehicle(Vehicle):
    """A vehicle on a `MavLink`. State survives link loss; the object is never replaced."""

    def __init__(self, link: MavLink, rec: VehicleRecord) -> None:
        self.link = link
        self.rec = rec
        self._event_queues: list[asyncio.Queue[LinkEvent]] = []
        self._tracker = Tracker(self)
        self.telemetry = PymavTelemetry(self)
        self.action = PymavAction(self)
        self.mission = PymavMissions(self)
        self.params = PymavParams(self)
        self._remove = link.add_listener(rec.sysid, self._tracker)
        self._events_q, self._remove_events = link.event_queue()
        self._pump = asyncio.create_task(self._pump_events(), name=f"vehicle {rec.sysid} events")

    @property
    def identity(self) -> Identity:
        r = self.rec
        vtype = C.enums["MAV_TYPE"].get(r.mav_type)
        name = vtype.name.removeprefix("MAV_TYPE_").lower() if vtype else str(r.mav_type)
        return Identity(
            r.sysid,
            r.compid,
            r.autopilot,
            name,
            r.mav_type,
            r.uid,
            r.firmware,
            r.capabilities,
            "pymavlink",
            self.link.url,
        )

    @property
    def sysid(self) -> int:
        return self.rec.sysid

    async def _pump_events(self) -> None:
        while True:
            ev = await self._events_q.get()
            if ev.sysid == self.rec.sysid:
                if ev.kind == LinkEventKind.LINK_RESTORED:
                    # Refresh what a reboot during the outage may have changed.
                    asyncio.get_running_loop().create_task(self._refresh())
                self._fanout(ev)

    def _fanout(self, ev: LinkEvent) -> None:
        for q in self._event_queues:
            q.put_nowait(ev)
        self._tracker.changed.set()

    def _emit(
        self, kind: LinkEventKind, detail: str = "", data: dict[str, Any] | None = None
    ) -> None:
        self._fanout(LinkEvent(kind, self.rec.sysid, time.monotonic(), detail, data or {}))

    def _on_reboot(self, old_ms: int, new_ms: int) -> None:
        log.warning("vehicle %d rebooted (uptime %d ms -> %d ms)", self.sysid, old_ms, new_ms)
        self._emit(
            LinkEventKind.REBOOTED,
            f"uptime went from {old_ms / 1000:.1f} s to {new_ms / 1000:.1f} s",
            {"uptime_ms": new_ms},
        )
        asyncio.get_running_loop().create_task(self._refresh())

    _refreshing = False

    async def _refresh(self) -> None:
        # Single flight: a flapping link must not pile up home requests.
        if self._refreshing:
            return
        self._refreshing = True
        try:
            with contextlib.suppress(LinkError):
                await self.request_message(C.MAVLINK_MSG_ID_HOME_POSITION)
        finally:
            self._refreshing = False

    def _check_usable(self) -> None:
        if self.rec.duplicate:
            raise DuplicateSysidError(self.rec.sysid, tuple(sorted(self.rec.uids)))

    async def command(
        self, command: int, *params: float, use_int: bool = False, frame: int = C.MAV_FRAME_GLOBAL
    ) -> None:
        self._check_usable()
        await send_command(
            self.link, self.sysid, self.rec.compid, command, params, use_int=use_int, frame=frame
        )

    async def request_message(self, msg_id: int) -> None:
        await self.command(C.MAV_CMD_REQUEST_MESSAGE, msg_id)
        await asyncio.sleep(0.05)

    async def set_message_interval(self, msg_id: int, hz: float) -> None:
        await self.command(C.MAV_CMD_SET_MESSAGE_INTERVAL, msg_id, 1e6 / hz if hz > 0 else -1)

    _on_close: Callable[[], Any] | None = None

    async def close(self) -> None:
        self._remove()
        self._remove_events()
        self._pump.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._pump
        if self._on_close is not None:
            task = self._on_close()
            self._on_close = None
            if task is not None:
                await task


async def open_pymav(
    manager: Any,
    url: str,
    *,
    sysid: int | None = None,
    gcs_sysid: int | None = None,
    signing_key_file: Any = None,
    heartbeat_timeout_s: float | None = None,
    timeout_s: float = 30.0,
) -> Vehicle:
    """The `registry` opener: the vehicle on the manager's shared link for `url`."""
    link = await manager.link(
        url,
        signing_key_file=signing_key_file,
        gcs_sysid=gcs_sysid,
        heartbeat_timeout_s=heartbeat_timeout_s,
    )
    rec = await link.wait_vehicle(sysid, timeout_s)
    return manager.cached(url, rec.sysid, "pymavlink") or PymavVehicle(link, rec)


registry.register("pymavlink", open_pymav)
