"""Simulated drones for `groundctl fly --sim N` and the fleet tests.

Starts `sim.SimFleet` in this process on free loopback ports, one MAVLink endpoint per drone,
and gives the orchestrator a battery-swap hook that does on the ground what a crew does:
put in a charged battery (here: set the simulated battery to full).

With a scenario world (`start_cameras`), every drone also carries the simulated thermal
camera (`sim.world.CameraPayload`): its view of the world from the drone's pose, served as a
frame stream on a free loopback port, like a real payload's stream on the drone's network.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from groundctl import config
from missions.plan import Plan


@dataclass
class SimHandle:
    fleet: Any  # sim.SimFleet
    endpoints: list[tuple[str, int]]  # (url, sysid) per drone
    names: dict[str, int] = field(default_factory=dict)  # fleet name -> vehicle index
    swaps: dict[str, int] = field(default_factory=dict)
    streams: list[str] = field(default_factory=list)  # tcp:// frame stream per drone

    def vehicle(self, name: str) -> Any:
        return self.fleet.vehicles[self.names[name]]

    def name_drones(self, names: Sequence[str]) -> None:
        self.names = {n: i for i, n in enumerate(names)}

    swap_s: float = 180.0  # a crew's battery swap, simulated seconds

    async def swap_battery(self, name: str) -> None:
        """What a crew does on the ground: `swap_s` (simulated) later, a charged battery."""
        await asyncio.sleep(self.swap_s / self.fleet.speedup)
        self.vehicle(name).faults.set_battery(100.0)
        self.swaps[name] = self.swaps.get(name, 0) + 1

    async def start_cameras(
        self, world: Any, camera: config.CameraConfig, rate_hz: float | None = None
    ) -> list[str]:
        """A thermal camera on every drone looking at `world`; returns the stream URLs."""
        payloads = await self.fleet.start_cameras(world, camera, base_port=0, rate_hz=rate_hz)
        self.streams = [f"tcp://{p.host}:{p.port}" for p in payloads]
        return self.streams

    async def stop(self) -> None:
        await self.fleet.stop()


async def start_sim(
    plan: Plan,
    n: int,
    *,
    flavour: str = "px4",
    speedup: float = 10.0,
    airframe: str | config.AirframeConfig = "mavic3t",
    seed: int = 0,
    **kwargs: Any,
) -> SimHandle:
    """Start `n` simulated drones at the plan's first launch point, on free ports.

    `airframe` is a catalogue name or an `AirframeConfig` (one from a user's config file)."""
    from sim.fleet import SimFleet

    lat, lon = plan.segments[0].launch
    fleet = SimFleet(
        vehicles=n,
        autopilot=flavour,
        airframe=config.airframe(airframe) if isinstance(airframe, str) else airframe,
        home=(lat, lon, 400.0),
        speedup=speedup,
        seed=seed,
        gcs_port=None,
        api_base_port=None,
        api_local_base_port=0,
        tcp_base_port=0,
        **kwargs,
    )
    await fleet.start()
    endpoints = []
    for v in fleet.vehicles:
        url = v.ports.tcp_url if flavour == "ardupilot" and v.ports.tcp_url else v.ports.api_url
        endpoints.append((url, v.sysid))
    handle = SimHandle(fleet, endpoints)
    handle.name_drones([f"sim{i + 1}" for i in range(n)])
    return handle
