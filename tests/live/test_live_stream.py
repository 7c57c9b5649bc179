"""LiveThermal against real frame streams over TCP: the simulated camera and hostile servers."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import numpy as np
import pytest

from groundctl import config
from groundctl.config import camera_model
from groundctl.fleet.thermal_live import Backoff, CameraStream, LiveThermal
from groundctl.store import Store
from tests.live.livefix import PERSON, distance_m, write_scenario
from thermal import framing
from thermal.frame import Gimbal, Pose, PoseSigma, ThermalFrame

pytest.importorskip("sim.world")

FAST = Backoff(initial_s=0.1, max_s=0.5, stall_s=5.0)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def over(lat: float, lon: float, agl_m: float = 40.0) -> Pose:
    return Pose(
        lat, lon, 480.0 + agl_m, agl_m, agl_m, 0.0, 0.0, 0.0,
        Gimbal(0.0, -90.0, 0.0, "vehicle"), PoseSigma(1.5, 2.0, 1.0),
    )  # fmt: skip


def h20t_stream(url: str, sysid: int = 7, name: str = "cam") -> CameraStream:
    return CameraStream(name, url, sysid, camera_model(config.camera("h20t")))


async def until(cond: Callable[[], bool], timeout_s: float = 60.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout_s
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


@contextlib.asynccontextmanager
async def running(live: LiveThermal):
    task = asyncio.create_task(live.run())
    try:
        yield task
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


@pytest.fixture
def world(tmp_path):
    from sim.world import load_scenario

    return load_scenario(write_scenario(tmp_path))


@pytest.fixture
def store(tmp_path):
    s = Store.open(tmp_path / "op.sqlite", "live-test")
    yield s
    s.close()


async def test_camera_over_a_person_gives_a_stored_hit_stamped_with_the_drone(world, store):
    from sim.world import CameraPayload, StaticPoseSource

    # The camera says it is vehicle 1; the fleet file says this stream is sysid 7.
    cam = config.camera("h20t")
    async with CameraPayload(world, cam, StaticPoseSource(over(*PERSON)), 1, port=0) as payload:
        live = LiveThermal([h20t_stream(f"tcp://127.0.0.1:{payload.port}")], store, backoff=FAST)
        async with running(live):
            await until(lambda: store.hits(), what="a hit in the store")
            await until(lambda: live.status["cam"].processed >= 3, what="frames processed")
    hits = store.hits()
    people = [h for h in hits if h.target_class == "person"]
    assert people, [(h.target_class, h.confidence) for h in hits]
    assert distance_m((people[0].lat, people[0].lon), PERSON) < 5.0
    assert people[0].vehicle_ids == (7,)
    assert all(s["vehicle_id"] == 7 for s in store.sightings(people[0].id))
    st = live.status["cam"]
    assert st.malformed == 0 and st.connects == 1
    assert live.hits_by("cam") == len(live.hits) >= 1


def _frame(frame_id: int, pose: Pose | None = None) -> bytes:
    rng = np.random.default_rng(frame_id)
    pixels = (10.0 + rng.normal(0, 0.05, (64, 80))).astype(np.float32)
    pixels[30:34, 40:43] = 31.0  # something warm
    frame = ThermalFrame(pixels, "celsius", time.time(), frame_id, 1, "h20t", pose or over(*PERSON))
    return framing.encode(frame)


async def _serve(handler: Callable[[int, asyncio.StreamWriter], Awaitable[None]], port: int = 0):
    conns = 0

    async def on_client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal conns
        conns += 1
        try:
            await handler(conns, writer)
        except (ConnectionError, OSError, asyncio.CancelledError):
            pass  # the client went away, or the test is over
        finally:
            writer.close()

    return await asyncio.start_server(on_client, "127.0.0.1", port)


async def test_malformed_bytes_are_counted_and_skipped(store):
    good_after = 0

    async def handler(conn: int, w: asyncio.StreamWriter) -> None:
        nonlocal good_after
        if conn == 1:
            w.write(_frame(1))
            # A frame whose framing is fine but whose header is not a frame: skipped in place.
            two = _frame(2)
            bad_head = json.loads(two[8 : 8 + int.from_bytes(two[4:8], "big")])
            bad_head["pose"]["lat"] = "north"
            raw = np.zeros((64, 80), "<u2")
            w.write(framing.encode_raw(bad_head, raw))
            w.write(_frame(3))
            # Then bytes that are no frame at all: the stream is out of step; reconnect.
            w.write(b"\x00GARBAGE" * 40)
            await w.drain()
            await asyncio.sleep(5)
            return
        for k in range(100, 10_000):
            w.write(_frame(k))
            await w.drain()
            good_after += 1
            await asyncio.sleep(0.05)

    server = await _serve(handler)
    port = server.sockets[0].getsockname()[1]
    live = LiveThermal([h20t_stream(f"tcp://127.0.0.1:{port}")], store, backoff=FAST)
    async with server, running(live) as task:
        st = live.status["cam"]
        await until(lambda: st.connects >= 2 and st.frames >= 10, what="frames after reconnect")
        assert not task.done()
    assert st.malformed == 2  # the bad header (in place) and the garbage (reconnect)
    assert st.reconnects == 1
    assert st.processed >= 8  # detection went on with the good frames after the bad bytes


async def test_a_killed_stream_is_reconnected_and_frames_resume(world, store):
    from sim.world import CameraPayload, StaticPoseSource

    port = free_port()
    payload = CameraPayload(
        world, config.camera("h20t"), StaticPoseSource(over(*PERSON)), 1, port=port
    )
    await payload.start()
    live = LiveThermal([h20t_stream(f"tcp://127.0.0.1:{port}")], store, backoff=FAST)
    st = live.status["cam"]
    try:
        async with running(live) as task:
            await until(lambda: st.processed >= 3, what="first frames")
            await payload.stop()  # the camera's server goes away (a payload reboot)
            await until(lambda: st.state != "live", what="the drop to be noticed")
            await asyncio.sleep(1.0)  # refused connections meanwhile: retried, not fatal
            assert not task.done()
            before = st.processed
            await payload.start()
            await until(lambda: st.processed >= before + 3, what="frames after the restart")
            assert st.state == "live" and st.reconnects >= 1
            await until(lambda: store.hits(), what="a hit")
    finally:
        await payload.stop()
    assert st.malformed == 0


async def test_frames_faster_than_detection_drop_the_oldest(store):
    blob = _frame(1)
    sent = 0

    async def handler(conn: int, w: asyncio.StreamWriter) -> None:
        nonlocal sent
        big = np.full((512, 640), 12.0, np.float32)
        big[200:210, 300:305] = 31.0
        data = framing.encode(
            ThermalFrame(big, "celsius", time.time(), 1, 1, "h20t", over(*PERSON))
        )
        for _ in range(600):  # far faster than a 640x512 frame is processed
            w.write(data)
            await w.drain()
            sent += 1
        await asyncio.sleep(30)

    assert blob  # the small helper frame encodes too
    server = await _serve(handler)
    port = server.sockets[0].getsockname()[1]
    live = LiveThermal(
        [h20t_stream(f"tcp://127.0.0.1:{port}")], store, backoff=FAST, buffer_frames=2
    )
    st = live.status["cam"]
    async with server, running(live):
        await until(lambda: st.frames >= 600, what="every frame read")
        await until(lambda: st.processed + st.dropped == 600, what="the buffer to drain")
    assert st.dropped > 0
    assert not live._buffers["cam"]  # every frame either processed or dropped, none queued
    assert st.processed < st.frames


async def test_an_unreachable_camera_is_retried_without_ending_the_search(store):
    port = free_port()  # nothing listens here
    live = LiveThermal([h20t_stream(f"tcp://127.0.0.1:{port}")], store, backoff=FAST)
    async with running(live) as task:
        await asyncio.sleep(1.5)
        assert not task.done()
        st = live.status["cam"]
        assert st.connects == 0 and st.state in ("connecting", "reconnecting")
        assert st.last_error == "refused"
        assert "reconnecting" in st.summary() and "refused" in st.summary()


def test_stream_urls_are_checked(tmp_path: Path):
    from groundctl.fleet.config import parse_stream_url

    assert parse_stream_url("tcp://10.0.0.21:5600") == ("10.0.0.21", 5600)
    for bad, why in (
        ("udp://10.0.0.21:5600", "scheme must be tcp://"),
        ("tcp://10.0.0.21", "needs host and port"),
        ("tcp://10.0.0.21:99999", "bad port"),
        ("tcp://10.0.0.21:5600/live", "nothing may follow"),
    ):
        with pytest.raises(ValueError, match=why):
            parse_stream_url(bad)


async def test_a_restarted_ground_station_continues_the_same_hit(world, store):
    from sim.world import CameraPayload, StaticPoseSource

    cam = config.camera("h20t")
    async with CameraPayload(world, cam, StaticPoseSource(over(*PERSON)), 1, port=0) as payload:
        url = f"tcp://127.0.0.1:{payload.port}"
        first = LiveThermal([h20t_stream(url)], store, backoff=FAST)
        async with running(first):
            await until(lambda: store.hits(), what="a hit")
        (hit,) = store.hits()
        seen = hit.sighting_count
        # A new ground-station process: a fresh pipeline over the same operation database.
        second = LiveThermal([h20t_stream(url)], store, backoff=FAST)
        async with running(second):
            await until(lambda: second.hits, what="the target confirmed again")
            await until(lambda: store.hits()[0].sighting_count > seen, what="new sightings")
    (again,) = store.hits()  # one target, one hit: not a second one (nor a second overwatch)
    assert again.id == hit.id and again.revision > hit.revision
    assert list(second.hits) == [hit.id]
