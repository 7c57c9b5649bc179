"""The `Vehicle` interface: what fleet orchestration programs against.

One vehicle, one object, whatever the backend (pymavlink for PX4 and ArduPilot, MAVSDK for
PX4). Capabilities are grouped MAVSDK-style into small sub-objects::

    vehicle = await open_vehicle("udpin://0.0.0.0:14540", sysid=1, backend="pymavlink")
    # (groundctl.link.manager.open_vehicle; backends join through groundctl.link.registry)
    vehicle.identity                      # sysid, autopilot, vehicle type, uid
    vehicle.telemetry.state()             # VehicleState snapshot (never blocks)
    async for st in vehicle.telemetry.subscribe(): ...   # every state change
    async for ev in vehicle.telemetry.events(): ...      # LinkEvent: lost/restored/rebooted/...
    await vehicle.telemetry.wait_for(lambda s: s.armed, timeout_s=10)
    await vehicle.mission.upload(plan_items)             # MissionType.MISSION / FENCE / RALLY
    if not await vehicle.mission.matches(plan_items): ...
    await vehicle.action.arm(); await vehicle.action.takeoff(alt_rel_m=30)
    await vehicle.action.start_mission()
    await vehicle.params.set("RTL_RETURN_ALT", 40)

Every method raises a `groundctl.link.errors` error (all `LinkError`): `CommandDenied` (with
MAV_RESULT and the STATUSTEXT reason), `Timeout`, `LinkLostError`, `MissionTransferError`,
`ParamError`, `DuplicateSysidError`. Nothing raises a bare exception for a vehicle's answer.

Mission items are "as the planner gives them": any object or mapping with seq, frame,
command, params (4) or param1..param4, x, y (lat/lon ×1e7), z — see `types.coerce_items`.
On ArduPilot the backend inserts and strips the home item at seq 0 itself: callers always
pass and receive the mission *without* home; `MissionProgress.current_seq` is translated to
the caller's numbering too (ArduPilot seq n -> n-1).
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable, Iterable
from typing import Any, Protocol

from groundctl.link.errors import Timeout
from groundctl.link.types import (
    EventStream,
    FlightMode,
    Identity,
    MissionItem,
    MissionType,
    OrbitResult,
    VehicleState,
)

__all__ = [
    "Action",
    "ChangeTrackingTelemetry",
    "MissionPlans",
    "Params",
    "Telemetry",
    "Vehicle",
]


class Telemetry(abc.ABC):
    """Live state of the vehicle, as a snapshot or a stream."""

    @abc.abstractmethod
    def state(self) -> VehicleState:
        """The latest snapshot. `link_ok` and `last_heartbeat_age_s` are current at call time."""

    @abc.abstractmethod
    def subscribe(self, min_interval_s: float = 0.0) -> AsyncIterator[VehicleState]:
        """Yield a snapshot after every change (at most one per `min_interval_s`).

        Slow consumers skip intermediate states, they never block the link.
        """

    @abc.abstractmethod
    def events(self) -> EventStream:
        """Link and vehicle events from the moment of the call: lost, restored, rebooted,
        duplicate sysid, statustext, item reached, mode changed, armed/disarmed. An async
        iterator (`async for ev in v.telemetry.events()`, or `anext`); unbounded, never drops
        events; `await stream.aclose()` to unsubscribe."""

    @abc.abstractmethod
    async def wait_for(
        self, predicate: Callable[[VehicleState], bool], timeout_s: float = 30.0, what: str = ""
    ) -> VehicleState:
        """Wait until `predicate(state)` holds; raise `Timeout` naming `what` otherwise."""


class StateChanges(Protocol):
    """What a backend keeps of its vehicle's state: a counter bumped on every change and an
    event set with it."""

    version: int
    changed: asyncio.Event


class ChangeTrackingTelemetry(Telemetry):
    """`subscribe`, `events` and `wait_for` for a backend whose state bumps `StateChanges`.

    Backends give `state()`, `_changes()`, `_sysid_label()` and `_event_queues()`.
    """

    @abc.abstractmethod
    def _changes(self) -> StateChanges: ...

    @abc.abstractmethod
    def _sysid_label(self) -> int: ...

    @abc.abstractmethod
    def _event_queues(self) -> list[Any]: ...

    async def _changed_or(self, wait_s: float) -> None:
        changes = self._changes()
        changes.changed.clear()
        # Also wake up now and then so link_ok / heartbeat age stay current. asyncio.timeout,
        # not wait_for: Python 3.11's wait_for can swallow a cancellation that arrives as the
        # event is set, and a subscriber would then never stop.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(wait_s):
                await changes.changed.wait()

    async def subscribe(self, min_interval_s: float = 0.0) -> AsyncIterator[VehicleState]:
        seen = -1
        while True:
            if self._changes().version == seen:
                await self._changed_or(1.0)
            seen = self._changes().version
            yield self.state()
            if min_interval_s > 0:
                await asyncio.sleep(min_interval_s)

    def events(self) -> EventStream:
        return EventStream(self._event_queues())

    async def wait_for(
        self, predicate: Callable[[VehicleState], bool], timeout_s: float = 30.0, what: str = ""
    ) -> VehicleState:
        deadline = time.monotonic() + timeout_s
        while True:
            st = self.state()
            if predicate(st):
                return st
            left = deadline - time.monotonic()
            if left <= 0:
                raise Timeout(
                    f"vehicle {self._sysid_label()}: {what or 'condition'} not reached in "
                    f"{timeout_s:.0f} s (mode {st.mode_name}, armed {st.armed})"
                )
            await self._changed_or(min(left, 0.5))


class Action(abc.ABC):
    """Flight commands, each done in the autopilot's own way (PX4 modes vs ArduPilot modes)."""

    @abc.abstractmethod
    async def arm(self) -> None:
        """Arm. A pre-arm refusal raises `CommandDenied` with the vehicle's reason."""

    @abc.abstractmethod
    async def disarm(self) -> None: ...

    @abc.abstractmethod
    async def takeoff(self, alt_rel_m: float) -> None:
        """Take off to `alt_rel_m` above home (PX4: NAV_TAKEOFF; ArduPilot: GUIDED + NAV_TAKEOFF).

        Returns once the command is accepted, not when the altitude is reached; use
        `telemetry.wait_for` for that.
        """

    @abc.abstractmethod
    async def start_mission(self, from_seq: int | None = None) -> None:
        """Fly the uploaded mission (PX4: AUTO.MISSION; ArduPilot: MAV_CMD_MISSION_START).

        `from_seq` (caller numbering, without ArduPilot's home) restarts at that item.
        """

    @abc.abstractmethod
    async def pause(self) -> None:
        """Hold position (PX4 AUTO.LOITER; ArduPilot DO_PAUSE_CONTINUE, else LOITER)."""

    @abc.abstractmethod
    async def resume(self) -> None:
        """Continue the mission where it was paused."""

    @abc.abstractmethod
    async def goto(self, lat: float, lon: float, alt_amsl_m: float) -> None:
        """Fly to a point and hold there (MAV_CMD_DO_REPOSITION; ArduPilot in GUIDED)."""

    @abc.abstractmethod
    async def orbit(
        self,
        lat: float,
        lon: float,
        alt_amsl_m: float,
        radius_m: float,
        speed_ms: float | None = None,
    ) -> OrbitResult:
        """Circle a point (PX4 DO_ORBIT). Where orbit is unsupported (ArduPilot Copter) fly to
        the point and hold over it; the result says which happened."""

    @abc.abstractmethod
    async def return_to_launch(self) -> None: ...

    @abc.abstractmethod
    async def land(self) -> None: ...

    @abc.abstractmethod
    async def set_speed(self, speed_ms: float) -> None:
        """Ground speed for the mission / go-to (MAV_CMD_DO_CHANGE_SPEED)."""

    @abc.abstractmethod
    async def set_mode(self, mode: FlightMode | str) -> None:
        """Switch flight mode: a `FlightMode` or the autopilot's own name ("AUTO.LOITER", "GUIDED")."""

    @abc.abstractmethod
    async def set_current_item(self, seq: int) -> None:
        """Make mission item `seq` (caller numbering) the next one (DO_SET_MISSION_CURRENT)."""


class MissionPlans(abc.ABC):
    """Upload/download/clear of the mission, geofence and rally plans (MAVLink mission protocol)."""

    @abc.abstractmethod
    async def upload(
        self, items: Iterable[Any], mission_type: MissionType = MissionType.MISSION
    ) -> int:
        """Upload and return the vehicle's opaque id for the plan (0 if it gives none).

        Survives loss: per-item re-requests are answered, the whole transfer retried per spec.
        """

    @abc.abstractmethod
    async def upload_if_changed(
        self,
        items: Iterable[Any],
        mission_type: MissionType = MissionType.MISSION,
        known_id: int | None = None,
    ) -> bool:
        """Upload unless `matches(items, known_id=...)`; True when an upload happened."""

    @abc.abstractmethod
    async def download(
        self, mission_type: MissionType = MissionType.MISSION
    ) -> list[MissionItem]: ...

    @abc.abstractmethod
    async def clear(self, mission_type: MissionType = MissionType.MISSION) -> None: ...

    @abc.abstractmethod
    async def matches(
        self,
        items: Iterable[Any],
        mission_type: MissionType = MissionType.MISSION,
        known_id: int | None = None,
    ) -> bool:
        """Does the vehicle already hold exactly these items?

        Fast path: the opaque id the vehicle gave in MISSION_ACK when this content was
        uploaded (remembered by this object, or `known_id` from a journal after a ground
        station restart) equals the mission_id it reports in MISSION_CURRENT. Fallback (the
        autopilot or the MAVLink dialect has no opaque ids): a MISSION_CURRENT total that
        differs answers False at once, otherwise download and compare content.
        """


class Params(abc.ABC):
    @abc.abstractmethod
    async def get(self, name: str) -> float: ...

    @abc.abstractmethod
    async def set(self, name: str, value: float) -> float:
        """Set and return the value the vehicle confirmed; `ParamError` if it differs."""

    @abc.abstractmethod
    async def get_all(self) -> dict[str, float]: ...


class Vehicle(abc.ABC):
    """One vehicle, whatever the backend. Holds state across link loss and reconnects."""

    telemetry: Telemetry
    action: Action
    mission: MissionPlans
    params: Params

    @property
    @abc.abstractmethod
    def identity(self) -> Identity: ...

    @property
    def sysid(self) -> int:
        return self.identity.sysid

    @abc.abstractmethod
    async def close(self) -> None:
        """Stop using the vehicle (the link stays open for others on it)."""

    async def __aenter__(self) -> Vehicle:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
