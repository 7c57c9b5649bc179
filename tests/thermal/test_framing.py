import asyncio

import numpy as np
import pytest

from thermal import framing
from thermal.errors import FrameError
from thermal.frame import Gimbal, Pose, Scale, ThermalFrame, frame_from_header


def sample_frame() -> ThermalFrame:
    rng = np.random.default_rng(0)
    pixels = (rng.normal(8.0, 0.05, (512, 640))).astype(np.float32)
    pixels[100:110, 200:205] = 31.5
    pose = Pose(47.39, 8.54, alt_agl_m=80.0, yaw_deg=90.0, gimbal=Gimbal(pitch_deg=-60.0))
    return ThermalFrame(pixels, "celsius", 1732350000.125, 42, 2, "h20t", pose, "test")


def test_centikelvin_round_trip_keeps_temperatures_to_a_hundredth():
    frame = sample_frame()
    back = framing.decode(framing.encode(frame))
    assert back.shape == (512, 640)
    assert np.max(np.abs(back.pixels - frame.pixels)) <= 0.0051
    assert back.pose == frame.pose
    assert (back.frame_id, back.vehicle_id, back.camera) == (42, 2, "h20t")
    assert back.timestamp == frame.timestamp


def test_async_reader_reads_consecutive_frames():
    frame = sample_frame()

    async def go():
        reader = asyncio.StreamReader()
        reader.feed_data(framing.encode(frame) + framing.encode(frame))
        reader.feed_eof()
        first = await framing.read_frame(reader)
        second = await framing.read_frame(reader)
        with pytest.raises(asyncio.IncompleteReadError):
            await framing.read_frame(reader)
        return first, second

    first, second = asyncio.run(go())
    assert np.array_equal(first.pixels, second.pixels)


def test_bad_stream_data_is_a_frame_error():
    data = framing.encode(sample_frame())
    with pytest.raises(FrameError, match="bad magic"):
        framing.decode(b"XXXX" + data[4:])
    with pytest.raises(FrameError, match="truncated"):
        framing.decode(data[:-10])


def test_header_errors_name_the_problem():
    raw = np.zeros((4, 4), np.uint16)
    with pytest.raises(FrameError, match="unknown key 'altitude'"):
        frame_from_header({"pose": {"lat": 1, "lon": 2, "altitude": 3}}, raw, "f.json")
    with pytest.raises(FrameError, match="latitude"):
        frame_from_header({"pose": {"lat": 100, "lon": 2}}, raw, "f.json")
    with pytest.raises(FrameError, match="unknown format"):
        frame_from_header({"format": "other/2"}, raw, "f.json")


def test_scale_clips_to_the_stored_type():
    raw = Scale.centikelvin().invert(np.array([-300.0, 20.0, 500.0]), np.uint16)
    assert raw.tolist() == [0, 29315, 65535]
