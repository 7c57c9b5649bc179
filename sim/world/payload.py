"""A simulated thermal payload: renders a vehicle's camera view and streams it over TCP.

One asyncio TCP server per vehicle (port 5600 + i by default) sends `thermal.framing` frames
at the camera rate to every connected client. Each frame is rendered from the vehicle's TRUE
pose and carries the ESTIMATED pose (what the autopilot believes) in its header, as a real
payload does. A client that cannot keep up loses frames (like a video link), never the
connection; frames are optionally recorded to disk (`sim.world.record`), where none are lost.
While nobody is connected and nothing is recorded, no frames are rendered (frame ids count
rendered frames). A non-radiometric camera (``radiometric: false``, e.g. a Boson) sends
14-bit counts with a ``relative`` scale instead of temperatures.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np
from numpy.typing import NDArray

from sim.errors import SimError
from sim.world.record import FrameRecorder
from sim.world.render import CameraSpec, Rendered, Renderer, SensorModel
from sim.world.world import World
from thermal.frame import Pose, Scale, ThermalFrame
from thermal.framing import encode

log = logging.getLogger(__name__)

DEFAULT_BASE_PORT = 5600
# Default stream rate cap: export-grade thermal cores deliver < 9 Hz, and three drones at
# 9 Hz is what a 2-core ground machine renders while its detector keeps up. Pass rate_hz
# to stream at a camera's full rate.
DEFAULT_MAX_RATE_HZ = 9.0
# A client more than this many bytes behind (~4 frames of 640x512 u16) skips frames.
MAX_CLIENT_BACKLOG = 3 * 1024 * 1024


def raw_counts(celsius: NDArray[np.float32]) -> NDArray[np.float32]:
    """What a non-radiometric 14-bit core outputs before AGC: counts linear in scene
    temperature (~25 mK per count, 25 °C at mid-scale), with no calibration to undo."""
    return np.clip(8192.0 + (celsius - 25.0) * 40.0, 0, 16383).astype(np.float32)


def stream_port(index: int, base: int = DEFAULT_BASE_PORT) -> int:
    """The frame stream port of the `index`-th vehicle (0-based): 5600, 5601, ..."""
    return base + index


@runtime_checkable
class PoseSource(Protocol):
    """Where a vehicle is: ``poses() -> (true_pose, estimated_pose, timestamp_s)``."""

    def poses(self) -> tuple[Pose, Pose, float]: ...


@dataclass
class StaticPoseSource:
    """A camera that does not move (tests, `groundctl sim render`). `estimated` defaults to
    the true pose; the timestamp is the wall clock."""

    pose: Pose
    estimated: Pose | None = None

    def poses(self) -> tuple[Pose, Pose, float]:
        return self.pose, self.estimated or self.pose, time.time()


class CameraPayload:
    """A vehicle's thermal camera and its frame stream server.

    ``async with CameraPayload(world, camera, source, vehicle_id=1, port=0) as p:`` serves on
    ``p.port`` until the block ends (or use ``await start()`` / ``await stop()``).
    `port` None means 5600 + vehicle_id - 1; 0 picks a free port. `rate_hz` None means the
    camera's frame rate, capped at 9 Hz (DEFAULT_MAX_RATE_HZ).
    """

    def __init__(
        self,
        world: World,
        camera: CameraSpec,
        pose_source: PoseSource,
        vehicle_id: int,
        port: int | None = None,
        rate_hz: float | None = None,
        record_dir: str | Path | None = None,
        *,
        host: str = "127.0.0.1",
        seed: int | None = None,
        sensor: SensorModel | None = None,
        scale: Scale | None = None,
    ) -> None:
        self.world = world
        self.camera = camera
        self.pose_source = pose_source
        self.vehicle_id = vehicle_id
        self.host = host
        self._requested_port = stream_port(vehicle_id - 1) if port is None else port
        self.rate_hz = float(rate_hz or min(camera.frame_rate_hz, DEFAULT_MAX_RATE_HZ))
        if not self.rate_hz > 0:
            raise SimError(f"vehicle {vehicle_id}: camera rate must be positive, got {rate_hz}")
        self.scale = scale or Scale.centikelvin()
        # A non-radiometric core (e.g. a Boson) sends counts, not temperatures.
        self.radiometric = bool(getattr(camera, "radiometric", True))
        base_seed = world.spec.seed if seed is None else seed
        self.renderer = Renderer(world, camera, seed=base_seed * 1000 + vehicle_id, sensor=sensor)
        self.recorder = FrameRecorder(record_dir, self.scale) if record_dir else None
        self.frame_id = 0
        self.frames_sent = 0
        self.frames_dropped = 0
        self._clients: set[asyncio.StreamWriter] = set()
        self._server: asyncio.Server | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def port(self) -> int:
        """The bound port (after start), else the requested one."""
        if self._server is not None and self._server.sockets:
            return int(self._server.sockets[0].getsockname()[1])
        return self._requested_port

    @property
    def clients(self) -> int:
        return len(self._clients)

    # --- lifecycle -----------------------------------------------------------------------------

    async def start(self) -> None:
        if self._server is not None:
            return
        try:
            self._server = await asyncio.start_server(
                self._on_client, self.host, self._requested_port
            )
        except OSError as exc:
            raise SimError(
                f"vehicle {self.vehicle_id}: cannot serve the frame stream on "
                f"{self.host}:{self._requested_port}: {exc.strerror or exc}; "
                "is another simulator running? choose another port"
            ) from None
        if self.recorder is not None:
            self.world.write_ground_truth(self.recorder.dir / "truth.geojson")
        self._task = asyncio.create_task(self._run(), name=f"payload-{self.vehicle_id}")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        for writer in list(self._clients):
            writer.close()
        self._clients.clear()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def __aenter__(self) -> CameraPayload:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # --- frames --------------------------------------------------------------------------------

    def capture(self) -> ThermalFrame:
        """Render (and record, if asked) the next frame from the pose source's current pose."""
        return self._capture(self.pose_source.poses())

    def _capture(self, poses: tuple[Pose, Pose, float]) -> ThermalFrame:
        true_pose, est_pose, stamp = poses
        self.frame_id += 1
        rendered = self.renderer.render(true_pose, self.frame_id)
        pixels, unit = rendered.celsius, "celsius"
        if not self.radiometric:
            pixels, unit = raw_counts(pixels), "relative"
        frame = ThermalFrame(
            pixels=pixels,
            unit=unit,
            timestamp=stamp,
            frame_id=self.frame_id,
            vehicle_id=self.vehicle_id,
            camera=self.camera.name,
            pose=est_pose,
            source=f"sim vehicle {self.vehicle_id}",
        )
        if self.recorder is not None:
            self.recorder.write(frame, self._truth(rendered))
        return frame

    def _truth(self, rendered: Rendered) -> list[dict[str, Any]]:
        """The targets in this frame, as the simulator knows them (for scoring detections)."""
        by_id = {t.id: t for t in self.world.targets}
        out = []
        for view in rendered.targets.values():
            t = by_id[view.id]
            out.append(
                {
                    "id": t.id,
                    "class": t.target,
                    "posture": t.posture,
                    "lat": round(t.lat, 8),
                    "lon": round(t.lon, 8),
                    "col": round(view.centre_px[0], 2),
                    "row": round(view.centre_px[1], 2),
                    "silhouette_px": view.silhouette_px,
                    "visible_px": view.visible_px,
                }
            )
        return out

    def _capture_encoded(self, poses: tuple[Pose, Pose, float]) -> bytes:
        frame = self._capture(poses)
        return encode(frame, self.scale if frame.radiometric else None)

    async def _run(self) -> None:
        period = 1.0 / self.rate_hz
        loop = asyncio.get_running_loop()
        deadline = loop.time()
        while True:
            data = b""
            try:
                # Nobody watching or recording: save the CPU for the other drones.
                if self._clients or self.recorder is not None:
                    # The pose is read here, on the loop the vehicle simulation runs on, so
                    # it is never caught half-updated; the rendering runs in a worker thread.
                    poses = self.pose_source.poses()
                    data = await asyncio.to_thread(self._capture_encoded, poses)
            except Exception:  # a bad pose must not end the stream; the next one may be fine
                log.exception("vehicle %s camera: frame %s failed", self.vehicle_id, self.frame_id)
            if data:
                self._broadcast(data)
            deadline += period
            now = loop.time()
            if deadline < now:  # rendering fell behind: skip, don't build a backlog
                deadline = now
            await asyncio.sleep(deadline - now)

    def _broadcast(self, data: bytes) -> None:
        for writer in list(self._clients):
            if writer.is_closing():
                self._clients.discard(writer)
                continue
            if writer.transport.get_write_buffer_size() > MAX_CLIENT_BACKLOG:
                self.frames_dropped += 1
                continue
            writer.write(data)
            self.frames_sent += 1

    async def _on_client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._clients.add(writer)
        try:
            # Clients send nothing; reading tells us when they hang up.
            while await reader.read(4096):
                pass
        except (ConnectionError, OSError):
            pass
        finally:
            self._clients.discard(writer)
            writer.close()
