"""A fleet of simulated vehicles sharing one clock, one loop and one local frame."""

from __future__ import annotations

import asyncio
import contextlib
import math
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from missions.geodesy import LocalFrame
from sim.airframe import GENERIC_QUAD, AirframeLike
from sim.clock import PHYSICS_DT_S, Clock
from sim.errors import SimError
from sim.gimbal import GimbalSpec
from sim.link import TcpServerLink, UdpLink
from sim.physics import Wind
from sim.vehicle import SimVehicle, Terrain

TICK_WALL_S = 0.02
# At most this much wall time is turned into simulated time per tick: when the machine is
# too slow for the speedup, simulated time slows down instead of jumping (like lockstep).
MAX_TICK_WALL_S = 0.25


@dataclass(frozen=True)
class Ports:
    """Where a vehicle can be reached. URLs use MAVSDK's syntax; `pymavlink_*` pymavlink's.

    Like PX4 SITL, a vehicle sends its API stream from its own UDP port (`api_port`,
    14580+i) to `api_target` (14540+i), where a ground station listens (`udpin://`); it also
    answers whoever sends to its own port (`udpout://`), which is how tests on free ports
    reach it without a fixed target.
    """

    api_port: int | None
    tcp_port: int | None
    gcs_target: tuple[str, int] | None
    host: str = "127.0.0.1"
    api_target: tuple[str, int] | None = None

    @property
    def api_url(self) -> str | None:
        if self.api_target is not None:
            return f"udpin://{self.api_target[0]}:{self.api_target[1]}"
        return None if self.api_port is None else f"udpout://{self.host}:{self.api_port}"

    @property
    def tcp_url(self) -> str | None:
        return None if self.tcp_port is None else f"tcpout://{self.host}:{self.tcp_port}"

    @property
    def gcs_url(self) -> str | None:
        """Where a ground station listens to receive this vehicle (shared by the fleet)."""
        if self.gcs_target is None:
            return None
        return f"udpin://{self.gcs_target[0]}:{self.gcs_target[1]}"

    @property
    def pymavlink_api(self) -> str | None:
        if self.api_target is not None:
            return f"udpin:{self.api_target[0]}:{self.api_target[1]}"
        return None if self.api_port is None else f"udpout:{self.host}:{self.api_port}"

    @property
    def pymavlink_tcp(self) -> str | None:
        return None if self.tcp_port is None else f"tcp:{self.host}:{self.tcp_port}"


class SimFleet:
    """N simulated autopilots. Use as ``async with SimFleet(...) as fleet:`` (see `sim`)."""

    def __init__(
        self,
        vehicles: int = 1,
        autopilot: str = "px4",
        airframe: AirframeLike | None = None,
        home: Sequence[float] = (47.397742, 8.545594, 488.0),
        speedup: float = 1.0,
        seed: int = 0,
        *,
        host: str = "127.0.0.1",
        gcs_host: str = "127.0.0.1",
        gcs_port: int | None = 14550,
        gcs_local_base_port: int = 18570,
        api_base_port: int | None = 14540,
        api_local_base_port: int | None = 14580,
        tcp_base_port: int | None = 5760,
        home_spacing_m: float = 5.0,
        wind_ms: float = 0.0,
        wind_from_deg: float = 0.0,
        gust_ms: float = 0.0,
        gps_warmup_s: float = 2.0,
        loss_pct: float = 0.0,
        latency_ms: float = 0.0,
        sysids: Sequence[int] | None = None,
        uids: Sequence[int] | None = None,
        terrain: Terrain | None = None,
        manual_clock: bool = False,
    ) -> None:
        if autopilot not in ("px4", "ardupilot"):
            raise SimError(f"autopilot must be 'px4' or 'ardupilot', not {autopilot!r}")
        if not 1 <= vehicles <= 250:
            raise SimError(f"vehicles must be between 1 and 250, not {vehicles}")
        if not (math.isfinite(speedup) and 0 < speedup <= 1000):
            raise SimError(f"speedup must be above 0 and at most 1000, not {speedup}")
        if len(home) not in (2, 3):
            raise SimError("home must be (lat, lon) or (lat, lon, alt_amsl)")
        lat, lon = float(home[0]), float(home[1])
        if not (-90 <= lat <= 90 and -180 <= lon <= 180):
            raise SimError(f"home {lat}, {lon} is not a WGS84 latitude, longitude in degrees")
        alt = float(home[2]) if len(home) == 3 else 0.0
        self.autopilot = autopilot
        self.airframe = airframe or GENERIC_QUAD
        self.home = (lat, lon, alt)
        self.seed = seed
        self.host = host
        self.clock = Clock(speedup, manual=manual_clock)
        self.frame = LocalFrame.aeqd(lat, lon)
        self._gcs = None if gcs_port is None else (gcs_host, gcs_port)
        self._gcs_local = gcs_local_base_port
        self._api_base = api_base_port
        self._api_local = api_local_base_port
        self._tcp_base = tcp_base_port if autopilot == "ardupilot" else None
        sysids = list(sysids) if sysids is not None else [i + 1 for i in range(vehicles)]
        uids = (
            list(uids)
            if uids is not None
            else [_default_uid(seed, s, i) for i, s in enumerate(sysids)]
        )
        if len(sysids) != vehicles or len(uids) != vehicles:
            raise SimError("sysids and uids, when given, need one entry per vehicle")
        wind = Wind(wind_ms, wind_from_deg, gust_ms)
        ground = alt if terrain is None else float(terrain(lat, lon))
        self.vehicles: list[SimVehicle] = []
        for i in range(vehicles):
            v = SimVehicle(
                index=i,
                sysid=sysids[i],
                flavour=autopilot,
                airframe=self.airframe,
                clock=self.clock,
                to_local=self._to_local,
                to_wgs84=self._to_wgs84,
                start_xy=(i * home_spacing_m, 0.0),
                ground_amsl_m=ground,
                seed=seed,
                uid=uids[i],
                wind=wind,
                gps_warmup_s=gps_warmup_s,
                terrain=terrain,
            )
            v.faults.loss_pct = loss_pct
            v.faults.latency_ms = latency_ms
            p = v.params
            p["SIM_WIND_SPD"] = wind_ms
            p["SIM_WIND_DIR"] = wind_from_deg
            p["SIM_WIND_GUST" if autopilot == "px4" else "SIM_WIND_TURB"] = gust_ms
            v.ports = Ports(None, None, self._gcs, host)  # type: ignore[attr-defined]
            self.vehicles.append(v)
        self._task: asyncio.Task[None] | None = None
        self.cameras: list[Any] = []
        self.ticks = 0
        self.started_wall = 0.0

    # WGS84 <-> fleet-local metres, scalars.
    def _to_local(self, lat: float, lon: float) -> tuple[float, float]:
        x, y = self.frame.to_local(lat, lon)
        return float(x), float(y)

    def _to_wgs84(self, x: float, y: float) -> tuple[float, float]:
        lat, lon = self.frame.to_wgs84(x, y)
        return float(lat), float(lon)

    @property
    def speedup(self) -> float:
        return self.clock.speedup

    @property
    def sim_time_s(self) -> float:
        return self.clock.sim_s

    async def start(self) -> SimFleet:
        try:
            for v in self.vehicles:
                await self._open_links(v)
        except BaseException:
            await self.stop()
            raise
        if not self.clock.manual:
            self._task = asyncio.create_task(self._run(), name="sim-fleet")
        self.started_wall = time.monotonic()
        return self

    async def _open_links(self, v: SimVehicle) -> None:
        i = v.index
        api_port = tcp_port = None
        api_target = None
        if self._gcs is not None:
            # PX4 SITL's GCS instance: its own port 18570+i, sending to the GCS port.
            local = self._gcs_local + i if self._gcs_local else 0
            link = UdpLink(v.link_faults, v.handle, (self.host, local), self._gcs)
            await link.start()
            v.links.append(link)
        if self._api_local is not None:
            # PX4 SITL's API instance: its own port 14580+i, sending to 14540+i.
            local = self._api_local + i if self._api_local else 0
            if self._api_base is not None:
                api_target = (self.host, self._api_base + i)
            link = UdpLink(v.link_faults, v.handle, (self.host, local), api_target)
            await link.start()
            v.links.append(link)
            api_port = link.port
        if self._tcp_base is not None:
            port = 0 if self._tcp_base == 0 else self._tcp_base + 10 * i
            tcp = TcpServerLink(v.link_faults, v.handle, (self.host, port))
            await tcp.start()
            v.links.append(tcp)
            tcp_port = tcp.port
        v.ports = Ports(api_port, tcp_port, self._gcs, self.host, api_target)  # type: ignore[attr-defined]

    async def start_cameras(
        self,
        world: Any,
        camera: Any,
        base_port: int = 5600,
        rate_hz: float | None = None,
        gimbal: GimbalSpec | None = None,
    ) -> list[Any]:
        """A thermal camera stream per vehicle (`sim.world.CameraPayload`), on TCP
        base_port + index (0: free ports; see each payload's `.port`). Stopped with the fleet.

        Each camera hangs on the mount `gimbal` describes, by default the scenario's
        ``gimbal:`` section (a stabilised gimbal looking straight down unless it says
        otherwise; see `sim.gimbal`).

        For the drones to fly over the scenario's terrain, build the fleet with
        ``terrain=world_terrain(world)``.
        """
        from sim.world.payload import CameraPayload

        mount = gimbal or getattr(getattr(world, "spec", None), "gimbal", None) or GimbalSpec()
        for v in self.vehicles:
            v.mount_gimbal(mount)
            port = base_port + v.index if base_port else 0
            payload = CameraPayload(
                world, camera, v, vehicle_id=v.sysid, port=port, rate_hz=rate_hz
            )
            await payload.start()
            self.cameras.append(payload)
        return self.cameras

    async def stop(self) -> None:
        for payload in self.cameras:
            await payload.stop()
        self.cameras.clear()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        for v in self.vehicles:
            for link in v.links:
                link.close()
            v.links.clear()
        await asyncio.sleep(0)

    async def __aenter__(self) -> SimFleet:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def _advance_to(self, target_s: float) -> None:
        clock = self.clock
        vehicles = self.vehicles
        while clock.sim_s + PHYSICS_DT_S <= target_s + 1e-9:
            clock.sim_s += PHYSICS_DT_S
            for v in vehicles:
                v.step(PHYSICS_DT_S)
        for v in vehicles:
            v.mission_tick()
            v.emit_due()

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        last = loop.time()
        target = self.clock.sim_s
        while True:
            await asyncio.sleep(TICK_WALL_S)
            now = loop.time()
            target += min(now - last, MAX_TICK_WALL_S) * self.clock.speedup
            last = now
            self._advance_to(target)
            self.ticks += 1

    async def advance(self, sim_s: float) -> None:
        """Manual clock only: run `sim_s` simulated seconds now, as fast as possible."""
        if not self.clock.manual:
            raise SimError("advance() needs SimFleet(manual_clock=True)")
        end = self.clock.sim_s + sim_s
        while self.clock.sim_s + PHYSICS_DT_S <= end + 1e-9:
            self._advance_to(min(end, self.clock.sim_s + 0.5))
            await asyncio.sleep(0)

    def table(self) -> list[dict[str, Any]]:
        """One row per vehicle: ids and where to connect."""
        rows = []
        for v in self.vehicles:
            ports: Ports = v.ports  # type: ignore[attr-defined]
            rows.append(
                {
                    "sysid": v.sysid,
                    "autopilot": v.flavour,
                    "home": v.home_latlon or (v.lat, v.lon, v.alt_amsl),
                    "api": ports.api_url,
                    "api_port": ports.api_port,
                    "tcp": ports.tcp_url,
                    "gcs": ports.gcs_url,
                }
            )
        return rows


def world_terrain(world: Any) -> Terrain:
    """The ground elevation of a `sim.world.World` as a SimFleet terrain function."""
    return lambda lat, lon: float(world.elevation_at(lat, lon))


def _default_uid(seed: int, sysid: int, index: int) -> int:
    # "SIM" in the top bytes, then seed and index: unique per vehicle, stable across runs.
    return (0x53494D << 40) | ((seed & 0xFFFF) << 24) | ((index & 0xFF) << 8) | (sysid & 0xFF)


class SimFleetThread:
    """Runs a SimFleet on its own event loop in a background thread, for synchronous scripts.

    ``with SimFleetThread(vehicles=2, speedup=10, gcs_port=None, api_base_port=0) as fleet:``
    then ``fleet.vehicles[0].ports.pymavlink_api``. Use `call` to act on vehicles safely.
    """

    def __init__(self, **kwargs: Any) -> None:
        self._kwargs = kwargs
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._error: BaseException | None = None
        self.fleet: SimFleet | None = None

    def start(self) -> SimFleetThread:
        self._thread = threading.Thread(target=self._main, name="sim-fleet", daemon=True)
        self._thread.start()
        self._ready.wait(30)
        if self._error is not None:
            raise self._error
        return self

    def _main(self) -> None:
        async def body() -> None:
            self._stop = asyncio.Event()
            try:
                self.fleet = SimFleet(**self._kwargs)
                await self.fleet.start()
            except BaseException as exc:  # handed to the starting thread
                self._error = exc
                self._ready.set()
                return
            self._loop = asyncio.get_running_loop()
            self._ready.set()
            try:
                await self._stop.wait()
            finally:
                await self.fleet.stop()

        asyncio.run(body())

    @property
    def vehicles(self) -> list[SimVehicle]:
        assert self.fleet is not None
        return self.fleet.vehicles

    def call(self, fn: Callable[[], Any]) -> Any:
        """Run `fn()` on the simulator's loop and return its result."""
        assert self._loop is not None

        async def run() -> Any:
            return fn()

        return asyncio.run_coroutine_threadsafe(run(), self._loop).result(30)

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(30)

    def __enter__(self) -> SimFleetThread:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
