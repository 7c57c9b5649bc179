"""The frame stream over a real TCP socket, and recording to TIFF + sidecar."""

from __future__ import annotations

import asyncio
import json

import numpy as np
import pytest
import tifffile
from worldfix import LAT0, LON0

from sim.errors import SimError
from sim.world import CameraPayload, Renderer, StaticPoseSource, load_scenario
from sim.world.record import read_recorded
from thermal.frame import Gimbal, Pose
from thermal.framing import read_frame
from thermal.readers import read_file

TRUE = Pose(lat=LAT0, lon=LON0, alt_agl_m=60.0, yaw_deg=30.0, gimbal=Gimbal(pitch_deg=-90))
# What the autopilot believes: 3 m off and a slightly wrong heading.
ESTIMATED = Pose(
    lat=LAT0 + 0.00003, lon=LON0, alt_agl_m=61.0, yaw_deg=31.5, gimbal=Gimbal(pitch_deg=-90)
)


def _world(write_scenario):
    return load_scenario(
        write_scenario(
            targets=[{"id": "p1", "class": "person", "posture": "lying", "lat": LAT0, "lon": LON0}]
        )
    )


async def test_frames_round_trip_over_tcp(write_scenario, cam, tmp_path):
    world = _world(write_scenario)
    source = StaticPoseSource(TRUE, ESTIMATED)
    rec = tmp_path / "rec3"
    async with CameraPayload(
        world, cam, source, vehicle_id=3, port=0, rate_hz=20, record_dir=rec
    ) as payload:
        assert payload.port > 0
        truth = json.loads((rec / "truth.geojson").read_text())
        assert [f["id"] for f in truth["features"]] == ["p1"]
        readers = [await asyncio.open_connection("127.0.0.1", payload.port) for _ in range(2)]
        got = [[await asyncio.wait_for(read_frame(r), 30) for _ in range(3)] for r, _ in readers]
        for _, w in readers:
            w.close()
    for frames in got:
        ids = [f.frame_id for f in frames]
        assert ids == sorted(ids) and len(set(ids)) == 3
        for f in frames:
            assert f.vehicle_id == 3 and f.camera == "testcam" and f.radiometric
            assert f.shape == (512, 640)
            # The header carries the ESTIMATED pose, the pixels show the TRUE view.
            assert f.pose == ESTIMATED
    # Both clients got the same frame content for the same frame id (one render, broadcast).
    common = {f.frame_id for f in got[0]} & {f.frame_id for f in got[1]}
    a = {f.frame_id: f for f in got[0]}
    b = {f.frame_id: f for f in got[1]}
    for fid in common:
        assert np.array_equal(a[fid].pixels, b[fid].pixels)
    # Nothing streamed is missing from the recording.
    for f in got[0]:
        assert (rec / f"frame_{f.frame_id:06d}.tiff").is_file()
    # Pixels equal the renderer's output for the TRUE pose, within the 0.01 K quantisation.
    frame = got[0][0]
    ref = Renderer(world, cam, seed=world.spec.seed * 1000 + 3).render(TRUE, frame.frame_id)
    assert np.max(np.abs(frame.pixels - ref.celsius)) <= 0.006
    # The person is in the middle of the picture, warmer than the grass around it.
    centre = frame.pixels[246:266, 300:340]
    assert centre.max() > np.median(frame.pixels) + 8


async def test_recording_round_trip(write_scenario, cam, tmp_path):
    world = _world(write_scenario)
    rec = tmp_path / "rec"
    payload = CameraPayload(
        world, cam, StaticPoseSource(TRUE, ESTIMATED), 1, port=0, record_dir=rec
    )
    frames = [payload.capture() for _ in range(2)]
    tiffs = sorted(rec.glob("frame_*.tiff"))
    assert [t.name for t in tiffs] == ["frame_000001.tiff", "frame_000002.tiff"]
    raw = tifffile.imread(tiffs[0])
    assert raw.dtype == np.uint16 and raw.shape == (512, 640)
    side = json.loads(tiffs[0].with_suffix(".json").read_text())
    assert side["format"] == "groundctl.frame/1"
    assert side["scale"] == {"unit": "celsius", "gain": 0.01, "offset": -273.15}
    assert side["pose"]["lat"] == pytest.approx(ESTIMATED.lat)
    back = read_recorded(tiffs[0])
    assert back.pose == ESTIMATED and back.frame_id == 1 and back.vehicle_id == 1
    assert np.max(np.abs(back.pixels - frames[0].pixels)) <= 0.006
    # What was really in view, for scoring: the person under the camera.
    truth = json.loads(tiffs[0].with_suffix(".truth.json").read_text())
    assert truth["frame_id"] == 1 and [t["id"] for t in truth["targets"]] == ["p1"]
    p1 = truth["targets"][0]
    assert p1["class"] == "person" and p1["posture"] == "lying"
    assert (p1["col"], p1["row"]) == pytest.approx((319.5, 255.5), abs=0.01)
    assert p1["visible_px"] == p1["silhouette_px"] > 50
    # The ground station's reader (what `groundctl detect` uses) reads it the same way.
    seen = read_file(tiffs[1])
    assert seen.radiometric and seen.pose == ESTIMATED and seen.camera == "testcam"
    assert np.max(np.abs(seen.pixels - frames[1].pixels)) <= 0.006


async def test_port_in_use_is_a_clear_error(write_scenario, cam):
    world = _world(write_scenario)
    src = StaticPoseSource(TRUE)
    async with CameraPayload(world, cam, src, 1, port=0) as first:
        second = CameraPayload(world, cam, src, 2, port=first.port)
        with pytest.raises(
            SimError, match=f"vehicle 2: cannot serve the frame stream on 127.0.0.1:{first.port}"
        ):
            await second.start()


async def test_idle_payload_renders_nothing_and_boson_sends_counts(write_scenario, cam):
    world = _world(write_scenario)
    boson = type(cam)(name="boson640_14mm", focal_length_mm=14.0, radiometric=False)
    async with CameraPayload(world, boson, StaticPoseSource(TRUE), 1, port=0, rate_hz=30) as p:
        await asyncio.sleep(0.3)
        assert p.frame_id == 0  # nobody connected: no frames rendered
        reader, writer = await asyncio.open_connection("127.0.0.1", p.port)
        frame = await asyncio.wait_for(read_frame(reader), 30)
        writer.close()
    assert frame.unit == "relative" and not frame.radiometric
    assert frame.camera == "boson640_14mm"
    # Counts, not temperatures: mid-scale 8192 is 25 °C, ~40 counts per kelvin.
    ground = float(np.median(frame.pixels))
    assert 6000 < ground < 8192
    assert frame.pixels.max() > ground + 8 * 40  # the person


def test_default_rate_is_the_camera_rate_capped_at_9_hz(write_scenario, cam):
    world = _world(write_scenario)
    src = StaticPoseSource(TRUE)
    assert CameraPayload(world, cam, src, 1).rate_hz == 9.0  # a 30 Hz camera
    assert CameraPayload(world, type(cam)(frame_rate_hz=8.7), src, 1).rate_hz == 8.7
    assert CameraPayload(world, cam, src, 1, rate_hz=30).rate_hz == 30.0
    assert CameraPayload(world, cam, src, 4).port == 5603  # 5600 + i, before start
    with pytest.raises(SimError, match="camera rate must be positive"):
        CameraPayload(world, cam, src, 1, rate_hz=-1)
