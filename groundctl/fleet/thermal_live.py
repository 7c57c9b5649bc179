"""Live thermal search: every drone's camera stream through one pipeline into the operation.

Per vehicle a reader task holds a TCP connection to its frame stream (`thermal.framing`,
``tcp://host:port``), reconnects with a capped backoff when it drops or stalls, decodes the
frames and stamps them with the vehicle's MAVLink system id (and the receive time when the
camera sends none). Frames wait in a small per-vehicle buffer; when detection falls behind,
the OLDEST frames are dropped and counted (a live search wants the newest view, and memory
must not grow with a backlog).

One `thermal.pipeline.Pipeline` serves the whole operation, so confirmation associates
sightings of one target across drones. It runs in a worker thread, one frame at a time (the
pipeline is stateful), so detection never stalls the MAVLink handling on the event loop.
Frames are taken round-robin across vehicles, so one fast camera cannot starve the others.

Every confirmed or updated `Hit` is written to the operation database first (through
`Dispatcher.submit` when dispatch is configured, which also queues it for every sink in the
same transaction; else `Store.upsert_hit`): the orchestrator's overwatch trigger reads it
from there, and nothing is lost across a ground-station restart.

A restarted ground station starts a fresh pipeline; a target it confirms where the operation
database already holds a hit of the same class (within the gate of their uncertainties) is
recorded as that hit, so a found person keeps one id (and one overwatch) across restarts.

Bytes that are not a frame are counted as malformed: a bad header leaves the stream out of
step (the wire format has no resync marker), so the connection is dropped and reopened; a
frame whose header decodes but whose content is invalid (a bad pose) is skipped in place.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import math
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from groundctl.config import camera_model
from groundctl.fleet.config import parse_stream_url
from thermal import framing
from thermal.camera import CameraModel
from thermal.errors import FrameError
from thermal.frame import ThermalFrame, frame_from_header
from thermal.georef import Terrain, latlon_to_offset
from thermal.hit import Hit
from thermal.pipeline import Pipeline

if TYPE_CHECKING:
    from groundctl.config import CameraConfig
    from groundctl.dispatch import Dispatcher
    from groundctl.store import Store

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CameraStream:
    """One vehicle's camera: where its frames come from and how to place them on the ground."""

    name: str  # the fleet's vehicle name
    url: str  # tcp://host:port
    sysid: int  # stamped on every frame: sightings and hits name the drone by it
    camera: CameraModel


@dataclass
class StreamStatus:
    """What the live table shows about one camera stream."""

    state: str = "connecting"  # connecting | live | reconnecting | stalled
    connects: int = 0
    frames: int = 0  # decoded
    processed: int = 0
    dropped: int = 0  # never processed: newer frames of this camera replaced them
    malformed: int = 0  # bytes that were not a valid frame
    errors: int = 0  # frames the pipeline failed on
    last_error: str = ""
    last_frame_wall: float = math.nan
    hit_ids: set[str] = field(default_factory=set)
    _rate: deque[float] = field(default_factory=lambda: deque(maxlen=20))

    @property
    def reconnects(self) -> int:
        return max(0, self.connects - 1)

    @property
    def fps(self) -> float:
        r = self._rate
        if len(r) < 2 or r[-1] <= r[0]:
            return 0.0
        return (len(r) - 1) / (r[-1] - r[0])

    def summary(self) -> str:
        if self.state != "live":
            why = f" ({self.last_error})" if self.last_error else ""
            return f"{self.state}{why}"
        extra = [f"{self.fps:.1f} fps"]
        if self.dropped:
            extra.append(f"{self.dropped} dropped")
        if self.malformed:
            extra.append(f"{self.malformed} bad")
        if self.reconnects:
            extra.append(f"{self.reconnects} reconnects")
        return "live " + ", ".join(extra)


@dataclass(frozen=True)
class Backoff:
    """Reconnect delays: `initial_s`, doubled per failed attempt, capped at `max_s`."""

    initial_s: float = 0.5
    max_s: float = 10.0
    stall_s: float = 15.0  # connected but no frame for this long: reconnect

    def delay(self, failures: int) -> float:
        return min(self.max_s, self.initial_s * 2 ** max(0, failures - 1))


class LiveThermal:
    """The operation's live thermal search. ``await run()`` until cancelled (or `close()`)."""

    def __init__(
        self,
        streams: Sequence[CameraStream],
        store: Store,
        *,
        terrain: Terrain | None = None,
        dispatcher: Dispatcher | None = None,
        buffer_frames: int = 2,
        backoff: Backoff = Backoff(),
        pipeline: Pipeline | None = None,
        on_hit: Callable[[Hit, list[str]], None] | None = None,
    ) -> None:
        if not streams:
            raise ValueError("LiveThermal needs at least one camera stream")
        names = [s.name for s in streams]
        if len(set(names)) != len(names):
            raise ValueError(f"camera streams must have distinct vehicle names: {names}")
        self.streams = {s.name: s for s in streams}
        self.store = store
        self.dispatcher = dispatcher
        self.backoff = backoff
        self.on_hit = on_hit
        self._by_sysid = {s.sysid: s for s in streams}
        self.pipeline = pipeline or Pipeline(camera=self._camera_for, terrain=terrain)
        self.status = {s.name: StreamStatus() for s in streams}
        self.hits: dict[str, Hit] = {}  # latest state of every hit seen in this run
        self.last_hit: tuple[Hit, list[str]] | None = None
        self.store_errors = 0
        # Hits of this operation from before this run (a restart): new targets that are one
        # of them continue it under its id.
        self._earlier = [
            (h.id, h.target_class, h.lat, h.lon, h.uncertainty_m) for h in store.hits()
        ]
        self._alias: dict[str, str] = {}
        self._buffers: dict[str, deque[ThermalFrame]] = {
            s.name: deque(maxlen=max(1, buffer_frames)) for s in streams
        }
        self._order = list(self.streams)
        self._turn = 0
        self._ready = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    # ------------------------------------------------------------------ public
    async def run(self) -> None:
        """Read every stream and process frames until cancelled."""
        self._tasks = [
            asyncio.create_task(self._read(s), name=f"camera-{s.name}")
            for s in self.streams.values()
        ]
        self._tasks.append(asyncio.create_task(self._work(), name="thermal-pipeline"))
        try:
            await asyncio.gather(*self._tasks)
        finally:
            for t in self._tasks:
                t.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)

    def hits_by(self, name: str) -> int:
        """Distinct hits this vehicle's camera contributed to."""
        return len(self.status[name].hit_ids)

    def totals(self) -> dict[str, int]:
        keys = ("frames", "processed", "dropped", "malformed", "errors")
        out = {k: sum(getattr(s, k) for s in self.status.values()) for k in keys}
        out["reconnects"] = sum(s.reconnects for s in self.status.values())
        return out

    # ------------------------------------------------------------------ readers
    def _camera_for(self, frame: ThermalFrame) -> CameraModel | None:
        s = self._by_sysid.get(frame.vehicle_id)  # type: ignore[arg-type]
        return s.camera if s is not None else None

    async def _read(self, stream: CameraStream) -> None:
        """Keep one stream connected for the life of the operation; never raises."""
        st = self.status[stream.name]
        host, port = parse_stream_url(stream.url)
        failures = 0
        while True:
            writer = None
            try:
                st.state = "connecting" if st.connects == 0 else "reconnecting"
                reader, writer = await asyncio.wait_for(
                    asyncio.open_connection(host, port), timeout=self.backoff.stall_s
                )
                st.connects += 1
                st.state, st.last_error = "live", ""
                async for frame in self._frames(stream, reader, st):
                    failures = 0
                    self._push(stream.name, frame)
                st.last_error = "stream closed"
            except FrameError as exc:
                st.malformed += 1
                st.last_error = "malformed stream"
                log.warning("%s camera %s: %s; reconnecting", stream.name, stream.url, exc)
            except TimeoutError:
                st.last_error = "no frames" if st.state == "live" else "connect timeout"
            except (OSError, asyncio.IncompleteReadError) as exc:
                st.last_error = _short_os_error(exc)
            finally:
                if writer is not None:
                    writer.close()
                    with contextlib.suppress(Exception):
                        await writer.wait_closed()
            failures += 1
            st.state = "reconnecting"
            await asyncio.sleep(self.backoff.delay(failures))

    async def _frames(
        self, stream: CameraStream, reader: asyncio.StreamReader, st: StreamStatus
    ) -> AsyncIterator[ThermalFrame]:
        """Frames from one connection; FrameError when the stream is out of step."""
        source = f"{stream.name} {stream.url}"
        stall = self.backoff.stall_s
        while True:
            prefix = await asyncio.wait_for(reader.readexactly(8), timeout=stall)
            header_len = framing.decode_header(prefix)
            head = await asyncio.wait_for(reader.readexactly(header_len), timeout=stall)
            header, dtype, shape, nbytes = framing.parse_header(head)
            payload = await asyncio.wait_for(reader.readexactly(nbytes), timeout=stall)
            now = time.time()
            try:
                raw = np.frombuffer(payload, dtype=dtype).reshape(shape)
                frame = frame_from_header(header, raw, source)
                # The fleet file, not the camera, says which drone this is.
                frame = dataclasses.replace(
                    frame,
                    vehicle_id=stream.sysid,
                    timestamp=frame.timestamp if frame.timestamp > 0 else now,
                )
            except (FrameError, ValueError, TypeError) as exc:
                # In step with the stream (the payload was read whole): skip just this frame.
                st.malformed += 1
                st.last_error = ""
                log.warning("%s: frame skipped: %s", source, exc)
                continue
            st.frames += 1
            st.last_frame_wall = now
            st._rate.append(now)
            yield frame

    def _push(self, name: str, frame: ThermalFrame) -> None:
        buf = self._buffers[name]
        if len(buf) == buf.maxlen:
            self.status[name].dropped += 1  # the deque drops the oldest
        buf.append(frame)
        self._ready.set()

    def _next(self) -> tuple[str, ThermalFrame] | None:
        n = len(self._order)
        for k in range(n):
            name = self._order[(self._turn + k) % n]
            buf = self._buffers[name]
            if buf:
                self._turn = (self._turn + k + 1) % n
                return name, buf.popleft()
        return None

    # ------------------------------------------------------------------ worker
    async def _work(self) -> None:
        while True:
            item = self._next()
            if item is None:
                self._ready.clear()
                await self._ready.wait()
                continue
            name, frame = item
            st = self.status[name]
            try:
                result = await asyncio.to_thread(self.pipeline.process, frame)
            except Exception as exc:  # one bad frame must not end the search
                st.errors += 1
                st.last_error = f"pipeline: {exc}"
                log.exception("%s: frame %s failed in the pipeline", name, frame.frame_id)
                continue
            st.processed += 1
            for hit in result.hits:
                await self._record(hit)

    def _continued(self, hit: Hit) -> Hit:
        """`hit` under the id of the earlier hit it is (see the module docstring)."""
        alias = self._alias.get(hit.id)
        if alias is None:
            alias = hit.id
            taken = set(self._alias.values())
            cands = [e for e in self._earlier if e[1] == hit.target_class and e[0] not in taken]
            if cands:
                north, east = latlon_to_offset(
                    hit.lat, hit.lon, [c[2] for c in cands], [c[3] for c in cands]
                )
                dist = np.hypot(north, east)
                gate = np.maximum(5.0, 3.0 * np.hypot(hit.uncertainty_m, [c[4] for c in cands]))
                k = int(np.argmin(dist))
                if dist[k] <= gate[k]:
                    alias = cands[k][0]
            self._alias[hit.id] = alias
        return hit if alias == hit.id else dataclasses.replace(hit, id=alias)

    async def _record(self, hit: Hit) -> None:
        hit = self._continued(hit)
        try:
            if self.dispatcher is not None:
                await self.dispatcher.submit(hit)
            else:
                await asyncio.to_thread(self.store.upsert_hit, hit)
        except Exception:
            # The hit stays in self.hits and is written with its next update; the flight
            # goes on. (A full disk is the realistic cause.)
            self.store_errors += 1
            log.exception("hit %s could not be stored", hit.id)
        self.hits[hit.id] = hit
        names = [s.name for v in hit.vehicle_ids if (s := self._by_sysid.get(v)) is not None]
        for n in names:
            self.status[n].hit_ids.add(hit.id)
        self.last_hit = (hit, names)
        if self.on_hit is not None:
            self.on_hit(hit, names)


def _short_os_error(exc: BaseException) -> str:
    if isinstance(exc, asyncio.IncompleteReadError):
        return "stream closed"
    if isinstance(exc, ConnectionRefusedError):
        return "refused"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror.lower()
    return type(exc).__name__


def streams_for(
    vehicles: Iterable[tuple[str, str | None, int, CameraConfig | None]],
) -> list[CameraStream]:
    """(name, stream url, sysid, camera config) per vehicle -> the streams to read."""
    return [
        CameraStream(name, url, sysid, camera_model(cam))
        for name, url, sysid, cam in vehicles
        if url is not None and cam is not None
    ]
