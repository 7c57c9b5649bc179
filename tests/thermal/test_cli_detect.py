"""`groundctl detect` end to end, as a user runs it."""

import csv
import json

import numpy as np
import pytest
import tifffile

from missions.terrain import write_dem
from thermal.camera import CameraModel
from thermal.frame import Gimbal, Pose, Scale, ThermalFrame, header_to_dict
from thermal.georef import latlon_to_offset, offset_to_latlon
from thermal.synthetic import Scene, SceneObject, render, truth_latlon

CAM = CameraModel.from_focal_length(640, 512, 13.5, 12.0, name="h20t")
LAT0, LON0 = 47.39, 8.54
PERSON = SceneObject("person", 3.0, 40.0, 1.7, 0.5, 27.0, heading_deg=30.0)
SCENE = Scene(LAT0, LON0, (PERSON,), seed=5)


def write_pass(folder, n=8, agl=80.0, pose_kw=None, gimbal=None, true_agl=None, north0=0.0):
    folder.mkdir(exist_ok=True)
    scale = Scale.centikelvin()
    for k in range(n):
        lat, lon = offset_to_latlon(LAT0, LON0, north0 + k * 8.0, 0.0)
        g = gimbal or Gimbal()
        true = Pose(float(lat), float(lon), alt_agl_m=true_agl or agl, gimbal=g)
        reported = Pose(float(lat), float(lon), gimbal=g, **(pose_kw or {"alt_agl_m": agl}))
        f = render(
            SCENE,
            CAM,
            true,
            true_agl or agl,
            reported_pose=reported,
            frame_id=k,
            timestamp=1.7e9 + k,
        )
        f = ThermalFrame(f.pixels, "celsius", f.timestamp, k, 4, "h20t", f.pose)
        tifffile.imwrite(folder / f"f{k:03d}.tiff", scale.invert(f.pixels, np.uint16))
        (folder / f"f{k:03d}.json").write_text(json.dumps(header_to_dict(f, scale)))


def error_m(feature):
    lon, lat = feature["geometry"]["coordinates"]
    n, e = latlon_to_offset(*truth_latlon(SCENE, PERSON), lat, lon)
    return float(np.hypot(n, e))


def test_detect_folder_writes_geojson_csv_and_annotations(run_cli, tmp_path):
    write_pass(tmp_path / "frames")
    (tmp_path / "frames" / "zz_broken.tiff").write_bytes(b"II*\x00broken")
    r = run_cli("detect", str(tmp_path / "frames"), "-o", str(tmp_path / "hits.geojson"),
                "--annotate", str(tmp_path / "ann"))  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "Confirmed hits (1)" in r.stdout and "person" in r.stdout
    assert "1 files skipped" in r.stdout and "zz_broken.tiff" in r.stdout
    doc = json.loads((tmp_path / "hits.geojson").read_text())
    assert len(doc["features"]) == 1
    feat = doc["features"][0]
    assert feat["properties"]["class"] == "person"
    assert feat["properties"]["vehicle_ids"] == [4]
    assert feat["properties"]["sightings"] >= 3
    assert feat["properties"]["chip_png_base64"]
    assert error_m(feat) < 1.5
    pngs = sorted((tmp_path / "ann").glob("*.png"))
    assert pngs and all(p.stat().st_size > 1000 for p in pngs)

    r = run_cli(
        "detect", str(tmp_path / "frames"), "-o", str(tmp_path / "hits.csv"), "--min-frames", "20"
    )
    assert r.returncode == 0, r.stderr
    rows = list(csv.DictReader((tmp_path / "hits.csv").open()))
    assert rows == []  # never seen in 20 frames: not confirmed
    r = run_cli("detect", str(tmp_path / "frames"), "-o", str(tmp_path / "hits.csv"))
    rows = list(csv.DictReader((tmp_path / "hits.csv").open()))
    assert [row["class"] for row in rows] == ["person"]
    assert float(rows[0]["lat"]) == pytest.approx(truth_latlon(SCENE, PERSON)[0], abs=2e-5)


def test_relative_altitude_is_corrected_with_a_dem(run_cli, tmp_path):
    # Took off at 500 m AMSL; the search area is a valley floor at 450 m. The drone reports
    # 80 m above take-off, so it is really 130 m above the ground, looking 40 deg forward.
    write_pass(tmp_path / "frames", pose_kw={"alt_rel_m": 80.0}, gimbal=Gimbal(pitch_deg=-50.0),
               true_agl=130.0, north0=-150.0)  # fmt: skip
    write_dem(tmp_path / "dem.tif", np.full((60, 60), 450.0), LON0 - 0.01, LAT0 + 0.01, 1e-3 / 3)
    naive = run_cli("detect", str(tmp_path / "frames"), "-o", str(tmp_path / "naive.geojson"))
    assert naive.returncode == 0, naive.stderr
    assert "relative to take-off" in naive.stdout
    fixed = run_cli("detect", str(tmp_path / "frames"), "--dem", str(tmp_path / "dem.tif"),
                    "--takeoff-amsl", "500", "-o", str(tmp_path / "fixed.geojson"))  # fmt: skip
    assert fixed.returncode == 0, fixed.stderr
    assert "relative to take-off" not in fixed.stdout
    naive_f = json.loads((tmp_path / "naive.geojson").read_text())["features"]
    fixed_f = json.loads((tmp_path / "fixed.geojson").read_text())["features"]
    assert len(fixed_f) == 1
    assert error_m(fixed_f[0]) < 2.0
    assert all(error_m(f) > 20.0 for f in naive_f)  # 80 vs 130 m: tens of metres off


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["detect", "/nonexistent/frames"], "no such file or folder"),
        (["detect", "FRAMES", "--camera", "nosuchcam"], "no camera named 'nosuchcam'"),
        (["detect", "FRAMES", "-o", "hits.kml"], "must end in .geojson"),
        (["detect", "FRAMES", "--dem", "FRAMES/f000.json"], "DEM"),
        (["detect", "EMPTY"], "no images"),
        (["detect", "FRAMES", "-o", "FRAMES/f000.json/h.geojson"], "f000.json is not a folder"),
        (["detect", "FRAMES", "--annotate", "FRAMES/f000.json"], "is a file, not a folder"),
    ],
)
def test_bad_input_exits_2_with_one_line(run_cli, tmp_path, args, message):
    write_pass(tmp_path / "frames", n=1)
    (tmp_path / "empty").mkdir()
    args = [
        a.replace("FRAMES", str(tmp_path / "frames")).replace("EMPTY", str(tmp_path / "empty"))
        for a in args
    ]
    r = run_cli(*args)
    assert r.returncode == 2, r.stdout + r.stderr
    assert message in r.stderr
    assert "Traceback" not in r.stderr


def test_plain_8bit_images_without_pose_are_detected_not_placed(run_cli, tmp_path):
    import cv2

    folder = tmp_path / "video_frames"
    folder.mkdir()
    rng = np.random.default_rng(1)
    for k in range(3):
        img = np.clip(rng.normal(90, 2, (256, 320)), 0, 255).astype(np.uint8)
        img[100:112, 60 + 20 * k : 66 + 20 * k] = 235  # a warm walker crossing the view
        cv2.imwrite(str(folder / f"v{k}.png"), img)
    r = run_cli(
        "detect",
        str(folder),
        "--annotate",
        str(tmp_path / "ann"),
        "-o",
        str(tmp_path / "h.geojson"),
    )
    assert r.returncode == 0, r.stderr
    assert "3 frames, 3 detections, 0 confirmed hits" in r.stdout
    assert "no pose" in r.stdout
    assert len(list((tmp_path / "ann").glob("*.png"))) == 3
    assert json.loads((tmp_path / "h.geojson").read_text())["features"] == []


def test_detect_reads_a_live_frame_stream(run_cli, tmp_path):
    import socket
    import threading

    from thermal import framing

    write_pass(tmp_path / "frames", n=8)
    from thermal.readers import iter_frames

    payload = b"".join(framing.encode(f) for f in iter_frames(tmp_path / "frames"))
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]

    def serve():
        conn, _ = server.accept()
        with conn:
            conn.sendall(payload)
        server.close()

    threading.Thread(target=serve, daemon=True).start()
    r = run_cli("detect", f"tcp://127.0.0.1:{port}", "-o", str(tmp_path / "live.geojson"))
    assert r.returncode == 0, r.stderr
    assert r.stdout.count("8 frames") == 1
    feats = json.loads((tmp_path / "live.geojson").read_text())["features"]
    assert [f["properties"]["class"] for f in feats] == ["person"]
    # nobody listening: the one input could not be read; one line, exit 2, not a crash
    closed = socket.create_server(("127.0.0.1", 0))
    dead_port = closed.getsockname()[1]
    closed.close()
    r = run_cli("detect", f"tcp://127.0.0.1:{dead_port}")
    assert r.returncode == 2 and f"tcp://127.0.0.1:{dead_port}: cannot read" in r.stderr
    assert "Traceback" not in r.stderr


def test_detect_json_is_one_document_with_inputs_detections_and_hits(run_cli, tmp_path):
    write_pass(tmp_path / "frames")
    (tmp_path / "frames" / "zz_broken.tiff").write_bytes(b"II*\x00broken")
    r = run_cli("detect", str(tmp_path / "frames"), "--json", "-o", str(tmp_path / "h.geojson"))
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)  # stdout is the document and nothing else
    assert doc["schema"] == "groundctl.detect/1"
    assert "Confirmed hits (1)" in r.stderr  # the report went to stderr
    broken = str(tmp_path / "frames" / "zz_broken.tiff")
    assert doc["inputs"]["total"] == 9 and len(doc["inputs"]["processed"]) == 8
    assert [s["source"] for s in doc["inputs"]["skipped"]] == [broken]
    assert "not a readable TIFF" in doc["inputs"]["skipped"][0]["reason"]
    assert doc["frames"] == 8
    [hit] = doc["hits"]
    assert hit["class"] == "person" and hit["vehicle_ids"] == [4] and hit["sightings"] >= 3
    assert (hit["lat"], hit["lon"]) == pytest.approx(truth_latlon(SCENE, PERSON), abs=2e-5)
    assert hit["temp_c"] is not None
    assert doc["counts"]["hits"] == {"person": 1}
    assert hit["id"] in r.stderr and f"{hit['lat']:.6f}" in r.stderr  # the table, uncut
    people = [d for d in doc["detections"] if d["class"] == "person"]
    assert len(people) >= 3 and sum(doc["counts"]["detections"].values()) == len(doc["detections"])
    for d in people:  # georeferenced, radiometric frames: every field filled in
        x, y, w, h = d["bbox_px"]
        cx, cy = d["centre_px"]
        assert x <= cx <= x + w and y <= cy <= y + h
        assert d["source"] in doc["inputs"]["processed"] and d["vehicle_id"] == 4
        assert 20 < d["temp_c"] < 40 and 0 < d["confidence"] <= 1
        assert (d["lat"], d["lon"]) == pytest.approx(truth_latlon(SCENE, PERSON), abs=5e-5)
    geo = json.loads((tmp_path / "h.geojson").read_text())["features"]
    assert [f["properties"]["id"] for f in geo] == [hit["id"]]
    assert doc["files"] == {"output": str(tmp_path / "h.geojson"), "annotate": None}


def test_detect_json_plain_frames_have_pixels_but_no_place_or_temperature(run_cli, tmp_path):
    import cv2

    folder = tmp_path / "plain"
    folder.mkdir()
    img = np.full((128, 160), 90, np.uint8)
    img[40:52, 60:66] = 235
    cv2.imwrite(str(folder / "v0.png"), img)
    r = run_cli("detect", str(folder / "v0.png"), "--json")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    [d] = doc["detections"]
    assert d["bbox_px"] == [60, 40, 6, 12] and d["centre_px"] == [62.5, 45.5]
    assert d["lat"] is None and d["lon"] is None and d["temp_c"] is None
    assert doc["hits"] == [] and doc["notes"] and "no pose" in doc["notes"][0]


def test_detect_exits_2_when_nothing_could_be_read(run_cli, tmp_path):
    bad = tmp_path / "garbage.geojson"
    bad.write_text('{"type": "FeatureCollection", "features": []}')
    r = run_cli("detect", str(bad), "--json")
    assert r.returncode == 2 and r.stdout == ""
    assert f"groundctl: error: {bad}: not a readable image" in r.stderr
    folder = tmp_path / "allbad"
    folder.mkdir()
    (folder / "a.tiff").write_bytes(b"II*\x00broken")
    (folder / "b.png").write_bytes(b"\x89PNG nope")
    r = run_cli("detect", str(folder / "a.tiff"))
    assert r.returncode == 2 and r.stdout == ""
    [line] = r.stderr.splitlines()  # one line: not tifffile's own complaint as well
    assert line.startswith(f"groundctl: error: {folder / 'a.tiff'}: not a readable TIFF")
    r = run_cli("detect", str(folder), "--json")
    assert r.returncode == 2 and r.stdout == ""
    assert f"{folder}: nothing could be read (2 of 2 inputs skipped" in r.stderr
    assert "Traceback" not in r.stderr
