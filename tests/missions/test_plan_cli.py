"""`groundctl plan` run for real: outputs, and clean errors (exit 2, no traceback)."""

import json
from pathlib import Path

import cv2
import pytest
from mission_testkit import box

from missions.plan import Plan

ROOT = Path(__file__).resolve().parents[2]
L_SHAPE = str(ROOT / "configs" / "areas" / "l_shape_hole.geojson")


def test_plan_writes_json_exports_preview_and_summary(run_cli, tmp_path):
    out = tmp_path / "out" / "plan.json"
    png = tmp_path / "out" / "plan.png"
    r = run_cli(
        "plan",
        L_SHAPE,
        "--camera",
        "h20t",
        "--alt",
        "60",
        "--overlap",
        "20",
        "--drones",
        "3",
        "--airframe",
        "m350_h20t",
        "-o",
        str(out),
        "--export",
        "qgc",
        "--export",
        "kml",
        "--export",
        "geojson",
        "--preview",
        str(png),
    )
    assert r.returncode == 0, r.stderr
    plan = Plan.load(out)
    assert len(plan.segments) == 3 and plan.camera.alt_agl_m == 60
    assert plan.camera.side_overlap == pytest.approx(0.2)
    assert {s.vehicle for s in plan.segments} == {"m350_h20t"}
    assert all(s.speed_ms == 12 for s in plan.segments)  # the M350's cruise speed
    qgc = sorted(out.parent.glob("plan-seg*-sortie*.plan"))
    assert len(qgc) == len(plan.sorties)
    assert json.loads(qgc[0].read_text())["geoFence"]["polygons"]
    assert out.with_suffix(".kml").read_text().startswith("<?xml")
    assert json.loads(out.with_suffix(".geojson").read_text())["type"] == "FeatureCollection"
    img = cv2.imread(str(png))
    assert img is not None and img.shape[1] == 1200
    # The preview is not blank: area grey, segments in colour.
    assert len({tuple(p) for p in img.reshape(-1, 3)[::97]}) > 5
    assert "Segments" in r.stdout and "coverage" in r.stdout and "POD" in r.stdout
    # Through a pipe: plain aligned text, every name and launch point whole, no box drawing.
    for seg in plan.segments:
        assert f"m350_h20t  {seg.launch[0]:.5f},{seg.launch[1]:.5f}" in r.stdout
    assert not set("│┃━─") & set(r.stdout)
    # On a terminal 80 columns wide: the least important columns go, never a name.
    import io

    from rich.console import Console

    from groundctl.cli._plan_report import summary

    buf = io.StringIO()
    summary(plan, [], [], Console(file=buf, force_terminal=True, width=80, color_system=None))
    shown = buf.getvalue()
    assert max(len(line) for line in shown.splitlines()) <= 80
    assert all(f"{s.launch[0]:.5f},{s.launch[1]:.5f}" in shown for s in plan.segments)
    assert "m350_h20t" in shown and "not shown for lack of width" in shown


def test_plan_by_pixels_on_person(run_cli, tmp_path):
    out = tmp_path / "p.json"
    r = run_cli(
        "plan",
        L_SHAPE,
        "--camera",
        "h20t",
        "--min-px-on-person",
        "5",
        "--drones",
        "1",
        "-o",
        str(out),
    )
    assert r.returncode == 0, r.stderr
    plan = Plan.load(out)
    assert plan.camera.px_on_person == pytest.approx(5.0, abs=0.01)
    r = run_cli("plan", L_SHAPE, "--camera", "h20t", "--min-px-on-person", "1", "-o", str(out))
    assert r.returncode == 0 and "capped at --max-alt 120" in r.stdout
    assert Plan.load(out).camera.alt_agl_m == 120


def _area(tmp_path, draw, name, outer, holes=()):
    p = tmp_path / name
    p.write_text(draw.geojson(outer, hole_features=holes))
    return str(p)


def test_repair_writes_the_repaired_shape(run_cli, tmp_path, draw):
    bow = _area(tmp_path, draw, "bow.geojson", [(0, 0), (600, 600), (600, 0), (0, 600)])
    out = tmp_path / "bow-plan.json"
    r = run_cli("plan", bow, "--camera", "h20t", "--alt", "50", "-o", str(out))
    assert r.returncode == 2 and "crosses itself at lat" in r.stderr and "Traceback" not in r.stderr
    r = run_cli("plan", bow, "--camera", "h20t", "--alt", "50", "-o", str(out), "--repair")
    assert r.returncode == 0, r.stderr
    repaired = tmp_path / "bow-plan.repaired.geojson"
    assert repaired.exists() and "repaired" in r.stdout
    assert len(json.loads(repaired.read_text())["features"]) == 2


def test_bad_inputs_exit_2_without_traceback(run_cli, tmp_path, draw):
    swallowed = _area(
        tmp_path, draw, "sw.geojson", box(0, 0, 100, 100), holes=[box(-5, -5, 105, 105)]
    )
    big = _area(tmp_path, draw, "big.geojson", box(0, 0, 4000, 4000))
    empty = tmp_path / "empty.kml"
    empty.write_text("")
    wrong = tmp_path / "area.shp"
    wrong.write_text("x")
    swapped = tmp_path / "swapped.geojson"
    swapped.write_text(
        json.dumps(
            {
                "type": "Polygon",
                "coordinates": [
                    [[-33.86, 151.2], [-33.86, 151.21], [-33.85, 151.21], [-33.86, 151.2]]
                ],
            }
        )
    )
    out = str(tmp_path / "o.json")
    cases = [
        ((swallowed, "--camera", "h20t", "--alt", "50"), "holes cover"),
        (
            (big, "--camera", "h20t", "--alt", "50", "--max-area-km2", "5"),
            "above the limit of 5 km²",
        ),
        ((str(empty), "--camera", "h20t", "--alt", "50"), "empty"),
        ((str(wrong), "--camera", "h20t", "--alt", "50"), "unsupported file type"),
        ((str(swapped), "--camera", "h20t", "--alt", "50"), "swapped"),
    ]
    for args, match in cases:
        r = run_cli("plan", *args, "-o", out)
        assert r.returncode == 2, (args, r.stdout, r.stderr)
        assert "Traceback" not in r.stderr, r.stderr
        assert match in r.stderr, (match, r.stderr)
    r = run_cli("plan", str(swapped), "--camera", "h20t", "--alt", "50", "--swap-latlon", "-o", out)
    assert r.returncode == 0, r.stderr


@pytest.mark.parametrize(
    ("extra", "match"),
    [
        (("--camera", "nosuchcam", "--alt", "50"), "no camera named 'nosuchcam'"),
        (("--camera", "h20t"), "exactly one of --alt"),
        (("--camera", "h20t", "--alt", "50", "--min-px-on-person", "4"), "exactly one of --alt"),
        (("--camera", "h20t", "--alt", "500"), "above --max-alt"),
        (("--camera", "h20t", "--alt", "50", "--launch", "47.4"), "expected LAT,LON"),
        (("--camera", "h20t", "--alt", "50", "--launch", "147.4,8.5"), "latitude must be within"),
        (("--camera", "h20t", "--alt", "50", "--export", "shp"), "unknown format"),
        (
            (
                "--camera",
                "h20t",
                "--alt",
                "50",
                "--drones",
                "2",
                "--airframe",
                "a",
                "--airframe",
                "b",
                "--airframe",
                "c",
            ),
            "3 --airframe values for 2 drones",
        ),
        (("--camera", "h20t", "--alt", "50", "--airframe", "nosuchframe"), "no airframe named"),
        (("--camera", "h20t", "--alt", "50", "--dem", "none.tif"), "DEM file not found"),
        (("--camera", "h20t", "--alt", "50", "--overlap", "99"), "--overlap 99: must be"),
        # Every number has a physical range; NaN, infinity and nonsense are refused.
        (("--camera", "h20t", "--alt", "50", "--speed", "500"), "--speed 500: must be above 0"),
        (("--camera", "h20t", "--alt", "50", "--speed", "-3"), "--speed -3: must be above 0"),
        (("--camera", "h20t", "--alt", "50", "--speed", "14.9", "--airframe", "mavic3t"), ""),
        (("--camera", "h20t", "--alt", "50", "--speed", "30"), "above the mavic3t's top speed"),
        (("--camera", "h20t", "--alt", "50", "--sweep-deg", "nan"), "--sweep-deg nan: must be"),
        (("--camera", "h20t", "--alt", "50", "--sweep-deg", "1e300"), "--sweep-deg 1e300"),
        (("--camera", "h20t", "--alt", "50", "--sweep-deg", "360"), "from 0 to 360 degrees"),
        (("--camera", "h20t", "--alt", "inf"), "--alt inf: must be above 0"),
        (("--camera", "h20t", "--alt", "50", "--drones", "0"), "--drones 0: must be from 1 to 20"),
        (("--camera", "h20t", "--alt", "50", "--drones", "21"), "--drones 21"),
        (("--camera", "h20t", "--alt", "50", "--drones", "2.5"), "whole number"),
        (("--camera", "h20t", "--alt", "50", "--drones", "abc"), "not a number"),
        (("--camera", "h20t", "--alt", "50", "--turn-margin", "1e300"), "--turn-margin 1e300"),
        (("--camera", "h20t", "--alt", "50", "--hole-margin", "-1"), "--hole-margin -1"),
        (("--camera", "h20t", "--alt", "50", "--max-area-km2", "0"), "--max-area-km2 0"),
        (("--camera", "h20t", "--alt", "50", "--lkp", "95,8"), "latitude must be within"),
        (("--camera", "h20t", "--alt", "50", "--lkp", "nan,8"), "latitude must be within"),
        (("--camera", "h20t", "--alt", "50", "--subject", "alien"), "unknown category"),
        (("--camera", "h20t", "--alt", "50", "--subject", "hiker"), "needs a last-known point"),
        (("--camera", "h20t", "--alt", "50", "--pattern", "spiral"), "--pattern spiral"),
        (("--camera", "h20t", "--alt", "50", "--pattern", "sector"), "needs the datum"),
        (("--camera", "h20t", "--alt", "50", "--legs", "0"), "--legs 0"),
        (("--camera", "h20t", "--alt", "50", "--width", "-5"), "--width -5"),
        (("--camera", "h20t", "--alt", "50", "--radius", "nan"), "--radius nan"),
        (("--camera", "h20t", "--alt", "50", "--first-bearing", "-1"), "--first-bearing -1"),
        (
            (
                "--camera",
                "h20t",
                "--alt",
                "50",
                "--subject",
                "runner",
                "--lkp",
                "47.4,8.55",
                "--terrain",
                "urban",
            ),
            "no published distances for 'runner' in 'urban'",
        ),
    ],
)
def test_bad_options_exit_2_with_a_one_line_error(
    tmp_path, draw, capsys, monkeypatch, extra, match
):
    # The same entry point as the installed command, in-process to keep the suite quick.
    from groundctl.cli import main

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("GROUNDCTL_CONFIG", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    ok = _area(tmp_path, draw, "ok.geojson", box(0, 0, 500, 500))
    with pytest.raises(SystemExit) as exc:
        main(["plan", ok, *extra, "-o", str(tmp_path / "o.json")])
    if not match:  # a value inside its range is taken
        assert exc.value.code == 0, capsys.readouterr().err
        return
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("groundctl: error: ") and match in err, err
    assert not (tmp_path / "o.json").exists()


def test_planner_settings_come_from_the_user_config(tmp_path, capsys, monkeypatch):
    from groundctl.cli import main

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("GROUNDCTL_CONFIG", raising=False)
    cfg = tmp_path / "my.yaml"
    cfg.write_text("planner:\n  max_area_km2: 0.1\n  turn_margin_m: 15\n")
    out = tmp_path / "o.json"
    args = ["plan", L_SHAPE, "--camera", "h20t", "--alt", "60", "-o", str(out)]
    with pytest.raises(SystemExit) as exc:
        main(["--config", str(cfg), *args])
    assert exc.value.code == 2 and "limit of 0.1 km²" in capsys.readouterr().err
    # The command line wins over the config file.
    with pytest.raises(SystemExit) as exc:
        main(["--config", str(cfg), *args, "--max-area-km2", "5"])
    assert exc.value.code == 0
    assert Plan.load(out).turn_margin_m == 15
    cfg.write_text("planner:\n  max_area: 3\n")
    with pytest.raises(SystemExit) as exc:
        main(["--config", str(cfg), *args])
    err = capsys.readouterr().err
    assert exc.value.code == 2 and "planner.max_area: unknown key" in err, err


def test_plan_with_a_dem_keeps_height_above_ground(tmp_path, capsys, monkeypatch):
    import numpy as np

    from groundctl.cli import main
    from missions.terrain import Dem, write_dem

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("GROUNDCTL_CONFIG", raising=False)
    # A slope rising 1 m per 10 m eastwards around the L-shape (47.42 N, 8.60 E).
    step = 0.0002
    cols = np.arange(300)
    z = np.tile(500.0 + 0.1 * cols * step * 75_000, (300, 1))
    dem_path = tmp_path / "dem.tif"
    write_dem(dem_path, z, 8.58, 47.44, step)
    out = tmp_path / "dem-plan.json"
    with pytest.raises(SystemExit) as exc:
        main(
            [
                "plan",
                L_SHAPE,
                "--camera",
                "h20t",
                "--alt",
                "60",
                "--dem",
                str(dem_path),
                "-o",
                str(out),
            ]
        )
    assert exc.value.code == 0, capsys.readouterr().err
    plan = Plan.load(out)
    assert plan.altitude_ref == "terrain"
    wps = [w for s in plan.sorties for w in s.waypoints]
    ground = Dem.read(dem_path).elevation([w.lat for w in wps], [w.lon for w in wps])
    assert np.allclose(np.array([w.alt_amsl_m for w in wps]) - ground, 60.0, atol=0.05)
    assert max(w.alt_rel_m for w in wps) - min(w.alt_rel_m for w in wps) > 50  # follows the slope
    assert "altitude terrain" in capsys.readouterr().out


def test_plan_json_is_one_document_matching_the_plan_file(run_cli, tmp_path):
    out, png = tmp_path / "plan.json", tmp_path / "plan.png"
    r = run_cli("plan", L_SHAPE, "--camera", "h20t", "--alt", "60", "--drones", "2",
                "-o", str(out), "--export", "kml", "--preview", str(png), "--json")  # fmt: skip
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)  # stdout is the document and nothing else
    assert doc["schema"] == "groundctl.plan/1"
    assert "Segments" in r.stderr and "coverage" in r.stderr  # the report went to stderr
    plan = Plan.load(out)
    assert doc["files"] == {
        "plan": str(out), "exports": [str(out.with_suffix(".kml"))], "preview": str(png)
    }  # fmt: skip
    assert png.exists() and out.with_suffix(".kml").exists()
    assert doc["area"]["km2"] == pytest.approx(plan.stats.area_m2 / 1e6, abs=1e-4)
    assert doc["area"]["holes"] == len(plan.holes) == 1
    assert doc["camera"] == "h20t" and doc["alt_m"] == plan.camera.alt_agl_m == 60
    assert doc["spacing_m"] == pytest.approx(plan.camera.lane_spacing_m, abs=0.01)
    assert doc["swath_m"] == pytest.approx(plan.camera.footprint_w_m, abs=0.01)
    assert doc["drones"] == len(doc["segments"]) == len(plan.segments) == 2
    usable_s = 38 * 60 * 0.75  # mavic3t: 38 min, 25 % reserve
    for row, seg in zip(doc["segments"], plan.segments, strict=True):
        assert row["drone"] == seg.index + 1 and row["airframe"] == seg.vehicle == "mavic3t"
        assert (row["launch"]["lat"], row["launch"]["lon"]) == pytest.approx(seg.launch)
        assert row["lanes"] == len(seg.lane_ids)
        assert row["flight_time_min"] == pytest.approx(seg.stats.est_time_s / 60, abs=0.01)
        assert row["pod"] == pytest.approx(seg.stats.pod, abs=1e-4) and row["poa"] is None
        assert len(row["sorties"]) == len(seg.sorties)
        for so, sortie in zip(row["sorties"], seg.sorties, strict=True):
            assert so["lanes"] == len(sortie.lane_ids)
            assert so["battery_pct"] == pytest.approx(100 * sortie.est_time_s / usable_s, abs=0.1)
            assert 0 < so["battery_pct"] <= 100
    totals = doc["totals"]
    assert totals["coverage_pct"] == pytest.approx(plan.stats.coverage_pct, abs=0.01)
    assert totals["sorties"] == len(plan.sorties)
    assert totals["max_flight_time_min"] == pytest.approx(
        plan.stats.max_segment_time_s / 60, abs=0.01
    )
    assert doc["lkp"] is None and doc["warnings"] == []


def test_plan_json_with_a_last_known_point_and_a_pattern(run_cli, tmp_path):
    out = tmp_path / "lkp.json"
    r = run_cli("plan", L_SHAPE, "--camera", "h20t", "--alt", "60", "--drones", "2",
                "--lkp", "47.4225,8.605", "--subject", "hiker", "-o", str(out), "--json")  # fmt: skip
    assert r.returncode == 0, r.stderr
    doc, plan = json.loads(r.stdout), Plan.load(out)
    lkp = doc["lkp"]
    assert (lkp["lat"], lkp["lon"], lkp["subject"]) == (47.4225, 8.605, "hiker")
    assert lkp["poa"] == pytest.approx(plan.stats.poa, abs=1e-4)
    assert len(lkp["rings"]) == len(plan.rings) > 1
    assert lkp["pos_by_time"] and lkp["pos_by_time"][-1]["pos"] == pytest.approx(
        plan.stats.pos_curve[-1][1], abs=1e-4
    )
    for row, seg in zip(doc["segments"], plan.segments, strict=True):
        assert row["poa"] == pytest.approx(seg.poa, abs=1e-4)
        assert all(so["pod"] is not None for so in row["sorties"])

    out = tmp_path / "square.json"
    r = run_cli("plan", "--camera", "h20t", "--alt", "60", "--lkp", "47.4225,8.605",
                "--pattern", "expanding-square", "--legs", "8", "-o", str(out), "--json")  # fmt: skip
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["pattern"] == "expanding-square" == Plan.load(out).pattern
    assert doc["lkp"]["lat"] == 47.4225 and doc["lkp"]["subject"] is None
    assert doc["segments"][0]["launch"] == {"lat": 47.4225, "lon": 8.605}


@pytest.mark.parametrize(
    ("where", "match"),
    [
        (("-o", "{tmp}"), "--output {tmp}: is a folder"),
        (("-o", "/dev/full"), "--output /dev/full: is not a regular file"),
        (("-o", "o.json", "--preview", "{tmp}"), "--preview {tmp}: is a folder"),
        (("-o", "o.json", "--preview", "p.gif"), "--preview p.gif: unknown file type"),
    ],
)
def test_bad_output_paths_exit_2_before_any_work(tmp_path, capsys, monkeypatch, where, match):
    from groundctl.cli import main

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("GROUNDCTL_CONFIG", raising=False)
    where = [w.replace("{tmp}", str(tmp_path)) for w in where]
    with pytest.raises(SystemExit) as exc:
        main(["plan", L_SHAPE, "--camera", "h20t", "--alt", "60", *where, "--json"])
    assert exc.value.code == 2
    captured = capsys.readouterr()
    assert captured.out == ""  # no document on bad input
    [line] = captured.err.strip().splitlines()
    assert line.startswith(f"groundctl: error: {match.replace('{tmp}', str(tmp_path))}"), line
    assert not (tmp_path / "o.json").exists()  # refused before planning
