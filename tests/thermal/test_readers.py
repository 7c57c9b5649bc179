"""Every reader against tiny fixtures written here in the real formats."""

import json
import math
import struct
import warnings

import cv2
import numpy as np
import pytest
import tifffile

from thermal import framing, readers
from thermal.errors import FrameError
from thermal.frame import Gimbal, Pose, Scale, ThermalFrame, header_to_dict
from thermal.readers import ReadOptions, SkipLog, SkippedFileWarning, iter_frames, read_file

TEMPS = np.array([[10.0, 20.0, 30.0, 36.5], [-5.0, 0.0, 45.0, 80.0]], np.float32)


def scene_c(rows=48, cols=64):
    t = np.full((rows, cols), 12.0, np.float32)
    t[10:16, 20:23] = 31.0
    return t


# --- 16-bit, float, 8-bit -------------------------------------------------------------------


def test_16bit_tiff_defaults_to_centikelvin(tmp_path):
    raw = Scale.centikelvin().invert(TEMPS, np.uint16)
    tifffile.imwrite(tmp_path / "a.tiff", raw)
    f = read_file(tmp_path / "a.tiff")
    assert f.radiometric
    assert np.allclose(f.pixels, TEMPS, atol=0.006)


def test_16bit_png_with_configurable_scale(tmp_path):
    # A core that outputs deci-Kelvin... or 0.04 K per count from 0 °C: the user says so.
    scale = Scale("celsius", 0.04, -20.0)
    raw = scale.invert(TEMPS, np.uint16)
    cv2.imwrite(str(tmp_path / "a.png"), raw)
    f = read_file(tmp_path / "a.png", ReadOptions(scale=scale))
    assert np.allclose(f.pixels, TEMPS, atol=0.021)
    # read with the wrong (default) scale, the values are implausible and say so
    with pytest.raises(FrameError, match=r"implausible.*scale"):
        read_file(tmp_path / "a.png")


def test_float_tiff_is_celsius(tmp_path):
    tifffile.imwrite(tmp_path / "f.tif", TEMPS)
    f = read_file(tmp_path / "f.tif")
    assert f.unit == "celsius" and np.array_equal(f.pixels, TEMPS)


def test_8bit_png_and_colour_jpeg_are_relative(tmp_path):
    grey = np.tile(np.arange(64, dtype=np.uint8) * 4, (48, 1))
    cv2.imwrite(str(tmp_path / "g.png"), grey)
    f = read_file(tmp_path / "g.png")
    assert f.unit == "relative" and f.pixels[0, 10] == 40.0
    colour = cv2.applyColorMap(grey, cv2.COLORMAP_INFERNO)
    cv2.imwrite(str(tmp_path / "c.jpg"), colour)
    f = read_file(tmp_path / "c.jpg")
    assert f.unit == "relative" and f.shape == (48, 64)
    assert f.pixels[:, -5:].mean() > f.pixels[:, :5].mean()  # brighter = warmer survives


def test_sidecar_gives_scale_pose_and_ids(tmp_path):
    pose = Pose(47.39, 8.54, alt_agl_m=80.0, yaw_deg=30.0, gimbal=Gimbal(pitch_deg=-70.0))
    frame = ThermalFrame(scene_c(), "celsius", 1732350000.5, 17, 3, "h20t", pose)
    scale = Scale.centikelvin()
    tifffile.imwrite(tmp_path / "frame_17.tiff", scale.invert(frame.pixels, np.uint16))
    (tmp_path / "frame_17.json").write_text(json.dumps(header_to_dict(frame, scale)))
    f = read_file(tmp_path / "frame_17.tiff")
    assert (f.frame_id, f.vehicle_id, f.camera, f.timestamp) == (17, 3, "h20t", 1732350000.5)
    assert f.pose == pose
    assert np.allclose(f.pixels, frame.pixels, atol=0.006)


def test_stream_recording_and_live_stream(tmp_path):
    frames = [
        ThermalFrame(
            scene_c() + k, "celsius", 100.0 + k, k, 2, "h20t", Pose(1.0, 2.0, alt_agl_m=60)
        )
        for k in range(3)
    ]
    (tmp_path / "rec.gctf").write_bytes(b"".join(framing.encode(f) for f in frames))
    back = list(iter_frames(tmp_path / "rec.gctf"))
    assert [f.frame_id for f in back] == [0, 1, 2]
    assert np.allclose(back[2].pixels, frames[2].pixels, atol=0.006)

    import asyncio

    async def serve_and_read():
        async def handle(reader, writer):
            for f in frames:
                writer.write(framing.encode(f))
            await writer.drain()
            writer.close()

        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        async with server:
            return [f async for f in readers.iter_stream("127.0.0.1", port)]

    live = asyncio.run(serve_and_read())
    assert [f.timestamp for f in live] == [100.0, 101.0, 102.0]


def test_video_file_in_relative_mode(tmp_path):
    path = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (64, 48), False)
    assert writer.isOpened()
    for k in range(5):
        img = np.full((48, 64), 40, np.uint8)
        img[10:18, 5 + 8 * k : 10 + 8 * k] = 220
        writer.write(img)
    writer.release()
    frames = list(iter_frames(path))
    assert len(frames) == 5
    assert all(f.unit == "relative" for f in frames)
    assert frames[3].pixels[12, 5 + 24 + 2] > 150
    assert [f.frame_id for f in frames] == list(range(5))


def test_unreachable_rtsp_is_a_counted_skip():
    skips = SkipLog()
    with pytest.warns(SkippedFileWarning, match="cannot open video"):
        frames = list(iter_frames("rtsp://127.0.0.1:1/none", skips=skips))
    assert frames == [] and skips.count == 1


# --- FLIR radiometric JPEG --------------------------------------------------------------------

PLANCK = {"R1": 21106.77, "R2": 0.012545258, "B": 1501.0, "F": 1.0, "O": -7340}


def planck_raw(temp_c):
    return (
        PLANCK["R1"]
        / (PLANCK["R2"] * (np.exp(PLANCK["B"] / (np.asarray(temp_c) + 273.15)) - PLANCK["F"]))
        - PLANCK["O"]
    )


def camera_info_record(emissivity=1.0, reflected_c=20.0, distance_m=0.0):
    rec = bytearray(0x340)
    struct.pack_into("<H", rec, 0, 2)  # little-endian record
    for off, v in (
        (0x20, emissivity), (0x24, distance_m), (0x28, reflected_c + 273.15),
        (0x2C, 20.0 + 273.15), (0x30, 20.0 + 273.15), (0x34, 1.0), (0x3C, 0.5),
        (0x58, PLANCK["R1"]), (0x5C, PLANCK["B"]), (0x60, PLANCK["F"]),
        (0x70, 0.006569), (0x74, 0.01262), (0x78, -0.002276), (0x7C, -0.00667), (0x80, 1.9),
        (0x30C, PLANCK["R2"]),
    ):  # fmt: skip
        struct.pack_into("<f", rec, off, v)
    struct.pack_into("<i", rec, 0x308, PLANCK["O"])
    rec[0xD4 : 0xD4 + 9] = b"FLIR Test"
    return bytes(rec)


def raw_record(raw, png):
    h, w = raw.shape
    head = struct.pack("<HHH", 2, w, h).ljust(0x20, b"\x00")
    if png:
        _ok, buf = cv2.imencode(".png", raw.astype("<u2").byteswap())
        return head + buf.tobytes()
    return head + raw.astype("<u2").tobytes()


def fff_file(records):
    """FFF: 64-byte big-endian header, then a directory of 32-byte entries, then records."""
    dir_off = 64
    data_off = dir_off + 32 * len(records)
    header = (
        b"FFF\x00"
        + b"Test".ljust(16, b"\x00")
        + struct.pack(">IIII", 100, dir_off, len(records), 0)
    )
    header = header.ljust(64, b"\x00")
    entries, blobs = b"", b""
    for rtype, data in records:
        off = data_off + len(blobs)
        entries += struct.pack(">HHIIIIIII", rtype, 0, 100, 1, off, len(data), 0, 0, 0)
        blobs += data
    return header + entries + blobs


def flir_jpeg(raw, png=False, chunk=20000, **cal):
    fff = fff_file([(0x20, camera_info_record(**cal)), (0x01, raw_record(raw, png))])
    chunks = [fff[i : i + chunk] for i in range(0, len(fff), chunk)]
    app1 = b""
    for i, c in enumerate(chunks):
        payload = b"FLIR\x00\x01" + bytes([i, len(chunks) - 1]) + c
        app1 += b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload
    _ok, visual = cv2.imencode(".jpg", np.full((48, 64), 128, np.uint8))
    visual = visual.tobytes()
    return visual[:2] + app1 + visual[2:]


@pytest.mark.parametrize("png", [False, True], ids=["raw16", "png"])
def test_flir_radiometric_jpeg(tmp_path, png):
    raw = np.rint(planck_raw(TEMPS)).astype(np.uint16)
    (tmp_path / "flir.jpg").write_bytes(flir_jpeg(raw, png=png, chunk=64))  # many segments
    f = read_file(tmp_path / "flir.jpg")
    assert f.radiometric and f.shape == TEMPS.shape
    assert np.allclose(f.pixels, TEMPS, atol=0.05)


def test_flir_emissivity_and_reflected_temperature(tmp_path):
    # A surface of emissivity 0.9 at 30 °C, reflecting a 10 °C sky: the camera sees
    # 0.9 * L(30) + 0.1 * L(10) in raw units; the reader must give 30 back.
    e, t_obj, t_refl = 0.9, 30.0, 10.0
    seen = e * planck_raw(t_obj) + (1 - e) * planck_raw(t_refl)
    raw = np.full((4, 4), np.rint(seen), np.uint16)
    (tmp_path / "e.jpg").write_bytes(flir_jpeg(raw, emissivity=e, reflected_c=t_refl))
    f = read_file(tmp_path / "e.jpg")
    assert float(f.pixels.mean()) == pytest.approx(t_obj, abs=0.05)


def test_damaged_flir_files_are_clear_errors(tmp_path):
    raw = np.rint(planck_raw(TEMPS)).astype(np.uint16)
    good = flir_jpeg(raw, chunk=200)
    # drop one of the FLIR segments
    second = good.find(b"FLIR\x00\x01\x01")
    seg_start = second - 4
    (seg_len,) = struct.unpack(">H", good[seg_start + 2 : seg_start + 4])
    (tmp_path / "gap.jpg").write_bytes(good[:seg_start] + good[seg_start + 2 + seg_len :])
    with pytest.raises(FrameError, match="segments incomplete"):
        read_file(tmp_path / "gap.jpg")
    (tmp_path / "cut.jpg").write_bytes(good[:300])
    with pytest.raises(FrameError, match=r"truncated|past the end"):
        read_file(tmp_path / "cut.jpg")


# --- pose from metadata ----------------------------------------------------------------------


def exif_gps_app1(lat, lon, alt):
    """A little-endian EXIF block with a GPS IFD: N/E refs, DMS rationals, altitude."""

    def rat(v, den=10000):
        return struct.pack("<II", round(v * den), den)

    def dms(v):
        d = int(v)
        m = int((v - d) * 60)
        s = (v - d - m / 60) * 3600
        return struct.pack("<IIIIII", d, 1, m, 1, round(s * 10000), 10000)

    ifd0_off = 8
    gps_off = ifd0_off + 2 + 12 + 4
    n = 6
    data_off = gps_off + 2 + 12 * n + 4
    lat_b, lon_b, alt_b = dms(abs(lat)), dms(abs(lon)), rat(alt)
    tiff = b"II*\x00" + struct.pack("<I", ifd0_off)
    tiff += struct.pack("<H", 1) + struct.pack("<HHII", 0x8825, 4, 1, gps_off) + b"\x00" * 4
    entries = [
        struct.pack("<HHI", 1, 2, 2) + (b"N" if lat >= 0 else b"S") + b"\x00\x00\x00",
        struct.pack("<HHII", 2, 5, 3, data_off),
        struct.pack("<HHI", 3, 2, 2) + (b"E" if lon >= 0 else b"W") + b"\x00\x00\x00",
        struct.pack("<HHII", 4, 5, 3, data_off + 24),
        struct.pack("<HHI", 5, 1, 1) + b"\x00\x00\x00\x00",
        struct.pack("<HHII", 6, 5, 1, data_off + 48),
    ]
    tiff += struct.pack("<H", n) + b"".join(entries) + b"\x00" * 4 + lat_b + lon_b + alt_b
    payload = b"Exif\x00\x00" + tiff
    return b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload


DJI_XMP = """<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
<rdf:Description xmlns:drone-dji="http://www.dji.com/drone-dji/1.0/"
 drone-dji:GpsLatitude="47.391234" drone-dji:GpsLongtitude="8.541234"
 drone-dji:AbsoluteAltitude="+612.50" drone-dji:RelativeAltitude="+95.20"
 drone-dji:GimbalRollDegree="+0.00" drone-dji:GimbalYawDegree="-120.30" drone-dji:GimbalPitchDegree="-55.10"
 drone-dji:FlightRollDegree="+2.10" drone-dji:FlightYawDegree="-118.00" drone-dji:FlightPitchDegree="+4.00"/>
</rdf:RDF></x:xmpmeta>"""


def with_segments(jpeg, *segments):
    return jpeg[:2] + b"".join(segments) + jpeg[2:]


def xmp_app1(xmp):
    payload = b"http://ns.adobe.com/xap/1.0/\x00" + xmp.encode()
    return b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload


def test_dji_xmp_pose_is_earth_frame_and_relative(tmp_path):
    _ok, img = cv2.imencode(".jpg", np.full((48, 64), 90, np.uint8))
    (tmp_path / "dji.jpg").write_bytes(with_segments(img.tobytes(), xmp_app1(DJI_XMP)))
    f = read_file(tmp_path / "dji.jpg")
    p = f.pose
    assert (p.lat, p.lon) == (47.391234, 8.541234)  # despite DJI's "Longtitude" spelling
    assert (p.alt_rel_m, p.alt_amsl_m, p.alt_agl_m) == (95.2, 612.5, None)
    assert p.gimbal == Gimbal(roll_deg=0.0, pitch_deg=-55.1, yaw_deg=-120.3, frame="earth")
    assert (p.roll_deg, p.pitch_deg, p.yaw_deg) == (2.1, 4.0, -118.0)


def test_exif_gps_pose(tmp_path):
    _ok, img = cv2.imencode(".jpg", np.full((48, 64), 90, np.uint8))
    seg = exif_gps_app1(-33.8688, 151.2093, 120.5)
    (tmp_path / "gps.jpg").write_bytes(with_segments(img.tobytes(), seg))
    p = read_file(tmp_path / "gps.jpg").pose
    assert p.lat == pytest.approx(-33.8688, abs=1e-6)
    assert p.lon == pytest.approx(151.2093, abs=1e-6)
    assert p.alt_amsl_m == pytest.approx(120.5)
    assert p.gimbal.pitch_deg == -90.0 and p.sigma.attitude_deg >= 5.0  # unknown: said so


def test_flir_jpeg_with_exif_gps_has_both(tmp_path):
    raw = np.rint(planck_raw(TEMPS)).astype(np.uint16)
    data = with_segments(flir_jpeg(raw), exif_gps_app1(47.5, 8.25, 500.0))
    (tmp_path / "fg.jpg").write_bytes(data)
    f = read_file(tmp_path / "fg.jpg")
    assert f.radiometric and f.pose.lat == pytest.approx(47.5)


# --- folders and bad input -------------------------------------------------------------------


def test_folder_skips_corrupt_files_with_a_count(tmp_path):
    scale = Scale.centikelvin()
    for k in range(3):
        tifffile.imwrite(tmp_path / f"f{k}.tiff", scale.invert(scene_c(), np.uint16))
    (tmp_path / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 20)
    (tmp_path / "empty.jpg").write_bytes(b"")
    (tmp_path / "nonsense.tiff").write_bytes(b"II*\x00garbage")
    tifffile.imwrite(tmp_path / "f9.tiff", scale.invert(scene_c(), np.uint16))
    (tmp_path / "f9.json").write_text("{not json")
    (tmp_path / "notes.txt").write_text("ignored: not an image")
    skips = SkipLog()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        frames = list(iter_frames(tmp_path, skips=skips))
    assert len(frames) == 3
    assert skips.count == 4
    reasons = dict(skips.skipped)
    assert "not a readable image" in reasons[str(tmp_path / "broken.png")]
    assert "empty file" in reasons[str(tmp_path / "empty.jpg")]
    assert "not a readable TIFF" in reasons[str(tmp_path / "nonsense.tiff")]
    assert "sidecar is not valid JSON" in reasons[str(tmp_path / "f9.tiff")]
    assert sum(issubclass(w.category, SkippedFileWarning) for w in caught) == 4


def test_bad_sidecar_content_names_the_problem(tmp_path):
    tifffile.imwrite(tmp_path / "x.tiff", np.zeros((8, 8), np.uint16) + 29315)
    (tmp_path / "x.json").write_text(json.dumps({"pose": {"lat": 95.0, "lon": 8.0}}))
    with pytest.raises(FrameError, match="latitude"):
        read_file(tmp_path / "x.tiff")
    with pytest.raises(FrameError, match="no such file"):
        list(iter_frames(tmp_path / "missing"))


def test_truncated_stream_recording_keeps_the_good_frames(tmp_path):
    f = ThermalFrame(scene_c(), "celsius", 1.0, 1, 1, None, None)
    data = framing.encode(f) * 2
    (tmp_path / "rec.gctf").write_bytes(data[:-100])
    skips = SkipLog()
    with pytest.warns(SkippedFileWarning):
        frames = list(iter_frames(tmp_path / "rec.gctf", skips=skips))
    assert len(frames) == 1 and skips.count == 1
    assert math.isclose(frames[0].timestamp, 1.0)
