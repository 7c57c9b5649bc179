"""The MAVSDK backend of `Vehicle` (PX4 only): the `mavsdk` >= 4 native binding, asyncio API.

MAVSDK owns its own socket and protocol machinery; this module maps its plugins (telemetry,
action, mission_raw, param) onto the `Vehicle` interface and its errors onto ours. Each
vehicle gets its own `Mavsdk` instance (its own connection), so pick a distinct URL/port per
MAVSDK vehicle, e.g. the simulator's per-vehicle API port.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from groundctl.errors import LinkError
from groundctl.link import registry
from groundctl.link.errors import (
    CommandDenied,
    LinkLostError,
    MissionTransferError,
    ParamError,
    Timeout,
    UnsupportedError,
)
from groundctl.link.mavsdk_backend.action import MavsdkAction
from groundctl.link.mavsdk_backend.logs import route_mavsdk_logs
from groundctl.link.mavsdk_backend.mission import MavsdkMissions
from groundctl.link.mavsdk_backend.param import MavsdkParams
from groundctl.link.mavsdk_backend.telemetry import MavsdkTelemetry, State, start_subscriptions
from groundctl.link.types import Autopilot, Identity, LinkEvent, LinkEventKind
from groundctl.link.url import parse_url
from groundctl.link.vehicle import Vehicle

__all__ = ["MavsdkVehicle", "open_mavsdk"]

_MAV_RESULT_FOR = {
    "COMMAND_DENIED": 2,
    "COMMAND_DENIED_NOT_LANDED": 2,
    "COMMAND_DENIED_LANDED_STATE_UNKNOWN": 2,
    "FAILED": 4,
    "UNSUPPORTED": 3,
    "BUSY": 1,
}


def mavsdk_url(url: str) -> str:
    ep = parse_url(url)
    if ep.kind == "serial":
        return f"serial://{ep.device}:{ep.baud}"
    host = ep.host if ep.kind != "udpin" else (ep.host or "0.0.0.0")
    return f"{ep.kind}://{host}:{ep.port}"


class MavsdkVehicle(Vehicle):
    def __init__(self, mavsdk: Any, system: Any, sysid: int, url: str) -> None:
        from mavsdk.asyncio.plugins.action import ActionAsync
        from mavsdk.asyncio.plugins.mission_raw import MissionRawAsync
        from mavsdk.asyncio.plugins.param import ParamAsync
        from mavsdk.asyncio.plugins.telemetry import TelemetryAsync

        self._mavsdk = mavsdk
        self._system = system
        self._sysid = sysid
        self._url = url
        self._tel = TelemetryAsync(system)
        self._act = ActionAsync(system)
        self._mis = MissionRawAsync(system)
        self._par = ParamAsync(system)
        self._s = State()
        self._event_queues: list[asyncio.Queue[LinkEvent]] = []
        self._tasks: list[asyncio.Task[None]] = []
        self.telemetry = MavsdkTelemetry(self)
        self.action = MavsdkAction(self)
        self.mission = MavsdkMissions(self)
        self.params = MavsdkParams(self)

    @classmethod
    async def connect(
        cls, url: str, *, sysid: int | None = None, timeout_s: float = 30.0, gcs_sysid: int = 245
    ) -> MavsdkVehicle:
        try:
            from mavsdk.asyncio import ComponentType, Configuration, Mavsdk
            from mavsdk.autopilot import Autopilot as MsAutopilot
        except ImportError as e:  # pragma: no cover - mavsdk is a dependency
            raise LinkError(
                f"backend mavsdk needs the mavsdk package (pip install 'mavsdk>=4'): {e}"
            ) from e
        route_mavsdk_logs()
        config = Configuration.create_with_component_type(ComponentType.GROUND_STATION)
        config.system_id = gcs_sysid
        mav = Mavsdk(config)
        try:
            await mav.add_any_connection(mavsdk_url(url))
        except Exception as e:
            mav.destroy()
            raise LinkError(f"{url}: MAVSDK cannot open the connection: {e}") from e
        deadline = time.monotonic() + timeout_s
        system = None
        while time.monotonic() < deadline:
            for s in await mav.get_systems():
                if await s.has_autopilot() and (sysid is None or await s.get_system_id() == sysid):
                    system = s
                    break
            if system is not None:
                break
            await asyncio.sleep(0.2)
        if system is None:
            mav.destroy()
            raise LinkError(
                f"{url}: MAVSDK heard no autopilot{f' with system id {sysid}' if sysid else ''} in {timeout_s:.0f} s"
            )
        if await system.autopilot_type() == MsAutopilot.ARDUPILOT:
            mav.destroy()
            raise LinkError(
                f"{url}: backend mavsdk flies PX4 only; use backend: pymavlink for ArduPilot"
            )
        v = cls(mav, system, await system.get_system_id(), url)
        v._start()
        await v._identify(await system.vehicle_type())
        return v

    async def _identify(self, vehicle_type: Any) -> None:
        """uid and firmware from MAVSDK's info plugin (AUTOPILOT_VERSION underneath)."""
        from mavsdk.asyncio.plugins.info import InfoAsync

        self._vehicle_type = getattr(vehicle_type, "name", str(vehicle_type)).lower()
        info = InfoAsync(self._system)
        with contextlib.suppress(Exception):
            ident = await asyncio.wait_for(info.get_identification(), 5)
            self._uid = int(ident.legacy_uid) or None
        with contextlib.suppress(Exception):
            ver = await asyncio.wait_for(info.get_version(), 5)
            self._firmware = f"{ver.flight_sw_major}.{ver.flight_sw_minor}.{ver.flight_sw_patch}"

    # -- background subscriptions -------------------------------------------------------------

    def _start(self) -> None:
        start_subscriptions(self)

    async def _pump(self, sub: Callable[[], AsyncIterator[Any]], fn: Callable[[Any], None]) -> None:
        s = self._s
        with contextlib.suppress(asyncio.CancelledError):
            async for x in sub():
                fn(x)
                if s.connected:
                    s.last_seen_s = time.monotonic()
                s.version += 1
                s.changed.set()

    def _emit(
        self, kind: LinkEventKind, detail: str = "", data: dict[str, Any] | None = None
    ) -> None:
        ev = LinkEvent(kind, self._sysid, time.monotonic(), detail, data or {})
        for q in self._event_queues:
            q.put_nowait(ev)

    @property
    def identity(self) -> Identity:
        return Identity(
            self._sysid, 1, Autopilot.PX4, self._vehicle_type, 0, self._uid, self._firmware, 0,
            "mavsdk", self._url,
        )  # fmt: skip

    _on_close: Callable[[], Any] | None = None
    _uid: int | None = None
    _firmware: str | None = None
    _vehicle_type = "unknown"

    async def close(self) -> None:
        if self._on_close is not None:
            self._on_close()
            self._on_close = None
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        with contextlib.suppress(Exception):
            self._mavsdk.destroy()

    async def call(self, what: str, coro: Awaitable[Any]) -> Any:
        """Await a MAVSDK call and translate its errors into ours."""
        from mavsdk.plugins.action import ActionError
        from mavsdk.plugins.mission_raw import MissionRawError
        from mavsdk.plugins.param import ParamError as MsParamError

        try:
            return await coro
        except ActionError as e:
            name = getattr(e.result, "name", str(e.result))
            reason = (
                self._s.last_statustext.text
                if self._s.last_statustext and time.monotonic() - self._s.last_statustext.time_s < 3
                else ""
            )
            if name == "TIMEOUT":
                raise Timeout(f"vehicle {self._sysid}: {what}: no answer (MAVSDK timeout)") from e
            if name in ("CONNECTION_ERROR", "NO_SYSTEM"):
                raise LinkLostError(f"vehicle {self._sysid}: {what}: link lost") from e
            cls = UnsupportedError if name == "UNSUPPORTED" else CommandDenied
            raise cls(self._sysid, what, _MAV_RESULT_FOR.get(name, 4), reason or name) from e
        except MissionRawError as e:
            name = getattr(e.result, "name", str(e.result))
            if name == "TIMEOUT":
                raise Timeout(f"vehicle {self._sysid}: {what}: timed out (MAVSDK)") from e
            # MAVSDK does not say which item was refused; the vehicle's STATUSTEXT may.
            said = self._s.last_statustext
            why = (
                f"; the vehicle said: {said.text}"
                if said and time.monotonic() - said.time_s < 3
                else ""
            )
            raise MissionTransferError(
                f"vehicle {self._sysid}: {what} refused: {name} (MAVSDK names no item){why}"
            ) from e
        except MsParamError as e:
            raise ParamError(
                f"vehicle {self._sysid}: {what} failed: {getattr(e.result, 'name', e)}"
            ) from e


async def open_mavsdk(
    manager: Any,
    url: str,
    *,
    sysid: int | None = None,
    gcs_sysid: int | None = None,
    timeout_s: float = 30.0,
    **_: Any,
) -> Vehicle:
    """The `registry` opener: a MAVSDK instance of its own for this vehicle."""
    return await MavsdkVehicle.connect(
        url, sysid=sysid, timeout_s=timeout_s, gcs_sysid=gcs_sysid or 245
    )


registry.register("mavsdk", open_mavsdk)
