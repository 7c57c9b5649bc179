"""`groundctl fly` output (#17): `--json` is one document a script reads (`groundctl.fly/1`),
matching the operation database; through a pipe at 80 columns its tables are plain text with
every name and connection string whole. Real simulated drones, real CLI."""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from groundctl.store import Store
from tests.groundctl.fleet.planfix import make_plan
from tests.groundctl.fleet.test_fleet_cli import _sim_cli

BOX = set("─│┃━┏┓┗┛┡┩└┘├┤┬┴┼╭╮╯╰═║")


def _journal(db):
    store = Store.open(db)
    try:
        return store.sorties(), store.events(), store.hits()
    finally:
        store.close()


def test_fly_json_is_one_document_matching_the_journal(run_cli, tmp_path):
    pytest.importorskip("sim.fleet")
    # A plan named after its area ("1 km² rectangle" from the shipped example) names the
    # operation with what a file name may hold; --sim used to refuse it.
    plan = make_plan(segments=2, lanes_per_sortie=2).model_copy(update={"name": "1 km² field"})
    plan.dump(tmp_path / "p.json")
    r = run_cli(
        "fly", "p.json", "--sim", "2", "--speedup", "50", "--db", "op.sqlite", "--json",
        env={"COLUMNS": "80"}, timeout=170,
    )  # fmt: skip
    assert r.returncode == 0, r.stdout + r.stderr
    doc = json.loads(r.stdout)  # stdout is the document and nothing else
    # the pilot's lines went to stderr
    assert "Pre-flight: go / no-go" in r.stderr and "search complete" in r.stderr
    assert doc["schema"] == "groundctl.fly/1" and doc["operation"] == "1-km-field"
    assert doc["result"] == "complete" and doc["exit_code"] == 0
    assert doc["signal"] is None and doc["on_exit"] is None
    assert doc["plan"]["file"] == "p.json" and doc["plan"]["name"] == plan.name
    assert len(doc["plan"]["digest"]) == 16 and doc["database"] == "op.sqlite"
    sorties, events, hits = _journal(tmp_path / "op.sqlite")
    lanes = {lane for s in plan.sorties for lane in s.lane_ids}
    assert doc["lanes"] == {"total": len(lanes), "swept": len(lanes), "left": 0, "percent": 100.0}
    assert doc["left"] == {"lanes": [], "why": []}
    assert [d["name"] for d in doc["drones"]] == ["sim1", "sim2"]
    for d in doc["drones"]:
        mine = [s for s in sorties if s.detail["vehicle"] == d["name"]]
        assert d["sorties"] == len(mine) >= 1
        assert d["sysid"] == mine[0].sysid
        assert d["lanes_swept"] == len({x for s in mine for x in s.detail["swept"]}) >= 1
        assert d["state"] == "done" and d["reason"] is None
        assert d["connection"].startswith("udpout://127.0.0.1:")
        # the human summary on stderr names the same connection, whole
        assert d["connection"] in r.stderr
    assert sum(d["lanes_swept"] for d in doc["drones"]) == len(lanes)
    assert doc["hits"] == {"total": len(hits), "by_class": {}}
    assert 0 < doc["elapsed_s"] < 170
    assert not [e for e in events if e.kind == "search_incomplete"]


def test_fly_json_says_what_is_left_and_why(run_cli, tmp_path):
    """Drones that cannot store a mission: exit 1, result failed, every lane left, and each
    drone's reason."""
    pytest.importorskip("sim.fleet")
    make_plan(segments=2, lanes_per_sortie=2).dump(tmp_path / "p.json")
    sim, urls = _sim_cli(tmp_path, "--vehicles", "2", "--fault", "mission-storage")
    try:
        assert len(urls) == 2, urls
        r = run_cli(
            "fly", "p.json", "--connect", urls[0], "--connect", urls[1], "--db", "op.sqlite",
            "--json", timeout=150,
        )  # fmt: skip
    finally:
        sim.terminate()
        sim.communicate(timeout=30)
    assert r.returncode == 1, r.stdout + r.stderr
    doc = json.loads(r.stdout)
    assert doc["result"] == "failed" and doc["exit_code"] == 1
    assert doc["lanes"]["swept"] == 0 and doc["lanes"]["left"] == doc["lanes"]["total"] == 4
    assert len(doc["left"]["lanes"]) == 4
    assert [d["connection"] for d in doc["drones"]] == urls
    for d in doc["drones"]:
        assert d["state"] == "LOST" and d["reason"].startswith("upload refused")
        assert f"{d['name']} gave up: {d['reason']}" in doc["left"]["why"]
    _, events, _ = _journal(tmp_path / "op.sqlite")
    assert any(e.kind == "search_incomplete" for e in events)


def test_fly_json_when_no_drone_is_go_names_each_failed_check(run_cli, tmp_path):
    """Autopilots that refuse the geofence: every drone NO-GO, nothing flown, exit 1, and the
    document says which check failed for which drone."""
    pytest.importorskip("sim.fleet")
    make_plan(segments=2, lanes_per_sortie=2).dump(tmp_path / "p.json")
    sim, urls = _sim_cli(tmp_path, "--vehicles", "2", "--fault", "storage")
    try:
        assert len(urls) == 2, urls
        r = run_cli(
            "fly", "p.json", "--connect", urls[0], "--connect", urls[1], "--db", "op.sqlite",
            "--json", timeout=150,
        )  # fmt: skip
    finally:
        sim.terminate()
        sim.communicate(timeout=30)
    assert r.returncode == 1, r.stdout + r.stderr
    doc = json.loads(r.stdout)
    assert doc["result"] == "failed" and doc["lanes"]["swept"] == 0
    assert doc["left"]["why"][0] == "no drone is GO"
    for d in doc["drones"]:
        assert d["state"] == "no-go" and d["sorties"] == 0
        assert d["reason"] == "pre-flight NO-GO: geofence: not uploaded"
        assert f"{d['name']}: {d['reason']}" in doc["left"]["why"]
    assert "NO-GO" in r.stderr


FLEET = """\
operation: north-ridge-night-search
vehicles:
  - name: north-ridge-thermal-alpha-u01
    connection: {0}
    airframe: mavic3t
  - name: north-ridge-thermal-bravo-u02
    connection: {1}
    airframe: mavic3t
"""


def test_fly_through_a_pipe_at_80_columns_prints_every_value_whole(run_cli, tmp_path):
    pytest.importorskip("sim.fleet")
    make_plan(segments=2, lanes_per_sortie=2).dump(tmp_path / "p.json")
    sim, urls = _sim_cli(tmp_path, "--vehicles", "2")
    try:
        assert len(urls) == 2, urls
        (tmp_path / "fleet.yaml").write_text(FLEET.format(*urls))
        r = run_cli(
            "fly", "p.json", "--fleet", "fleet.yaml", "--db", "op.sqlite",
            env={"COLUMNS": "80"}, timeout=150,
        )  # fmt: skip
    finally:
        sim.terminate()
        sim.communicate(timeout=30)
    assert r.returncode == 0, r.stdout + r.stderr
    out = r.stdout
    assert not BOX & set(out) and "…" not in out
    names = ["north-ridge-thermal-alpha-u01", "north-ridge-thermal-bravo-u02"]
    lines = out.splitlines()
    for title in ("Pre-flight: go / no-go", "Summary: complete"):
        start = next(i for i, line in enumerate(lines) if line.startswith(title))
        header, *rows = lines[start + 1 : start + 4]
        assert header.startswith("drone ")
        # one line per drone, its name first and whole, then every column
        assert [row.split()[0] for row in rows] == names
    preflight = lines[next(i for i, x in enumerate(lines) if x.startswith("Pre-flight")) + 2 :]
    assert all(row.split()[-1] == "GO" for row in preflight[:2])
    assert "ok: 3D fix, 16 sats" in preflight[0]
    summary = lines[next(i for i, x in enumerate(lines) if x.startswith("Summary")) + 2 :]
    for name, url in zip(names, urls, strict=True):
        row = next(line for line in summary if line.startswith(name + " "))
        assert row.split()[1] == url  # the connection string whole, as a user copies it
    # the fleet table: one plain line per drone
    assert [x.split()[0] for x in lines if x.startswith("north-ridge")].count(names[0]) == 3


def test_fly_json_after_sigterm_says_interrupted(tmp_path):
    """SIGTERM mid-flight with --json: the drones are sent home, exit 143, and stdout is
    still one document that says so."""
    pytest.importorskip("sim.fleet")
    make_plan(segments=2, lanes_per_sortie=10, lane_len_m=300).dump(tmp_path / "p.json")
    env = {k: v for k, v in os.environ.items() if k != "GROUNDCTL_CONFIG"}
    env.update(HOME=str(tmp_path), COLUMNS="80")
    proc = subprocess.Popen(
        [
            sys.executable, "-m", "groundctl", "fly", "p.json", "--sim", "2", "--speedup", "5",
            "--db", "op.sqlite", "--json",
        ],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        db = tmp_path / "op.sqlite"
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            time.sleep(0.5)
            if db.exists():
                with contextlib.suppress(Exception):
                    s = Store.open(db)
                    started = [c for c in s.commands() if c.command == "start_mission"]
                    s.close()
                    if len(started) == 2:
                        break
        # At --speedup 5 the 20 lanes take minutes: the search is still on when the signal
        # lands, however loaded the machine (at 20 it could finish first).
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 143, err
    assert "all drones ordered to return to launch" in err
    doc = json.loads(out)
    assert doc["result"] == "interrupted" and doc["exit_code"] == 143
    assert doc["signal"] == "SIGTERM" and doc["on_exit"] == "rtl"
    assert doc["lanes"]["left"] > 0 and len(doc["left"]["lanes"]) == doc["lanes"]["left"]
    assert doc["left"]["why"][0] == "stopped by SIGTERM: drones returned to launch"
    assert all(d["sorties"] >= 1 for d in doc["drones"])


def test_live_fleet_table_on_a_narrow_terminal_drops_columns_never_cuts_a_name():
    from rich.console import Console

    from groundctl.fleet.orchestrator import DroneView
    from groundctl.fleet.view import fleet_table

    names = ["north-ridge-thermal-alpha-u01", "north-ridge-thermal-bravo-u02"]
    state = dict(
        phase="search", mode="AUTO.MISSION", battery_pct=71, job="s0.0", lanes_total=4,
        lanes_swept=2, link_ok=True, heartbeat_age_s=0.4, hits=1, transit_alt_m=40,
        note="sortie complete",
    )  # fmt: skip
    views = [DroneView(n, sysid=i + 1, **state) for i, n in enumerate(names)]
    for width in (80, 60):
        console = Console(width=width, record=True, file=io.StringIO())
        console.print(fleet_table(views, 0.5, "op", width=width))
        text = console.export_text()
        assert max(len(line) for line in text.splitlines()) <= width
        assert "…" not in text
        for n in names:
            assert n in text
        assert "2/4 lanes" in text and "search" in text
        assert "not shown for lack of width: alt, sysid" in text
    wide = Console(width=250, record=True, file=io.StringIO())
    wide.print(fleet_table(views, 0.5, "op", width=250))
    text = wide.export_text()
    assert "lack of width" not in text and "AUTO.MISSION" in text and "━ 2/4 lanes" in text


def test_fly_refuses_a_plan_with_no_segments_in_one_line(run_cli, tmp_path):
    """#18 item 7: a plan file with "segments": [] ended in an IndexError traceback."""
    doc = json.loads(make_plan(segments=1, lanes_per_sortie=2).to_json())
    doc["segments"] = []
    (tmp_path / "p.json").write_text(json.dumps(doc))
    r = run_cli("fly", "p.json", "--sim", "1", "--db", "op.sqlite", timeout=60)
    assert r.returncode == 2, r.stdout + r.stderr
    assert "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert "p.json" in r.stderr and "no segments" in r.stderr
    assert not (tmp_path / "op.sqlite").exists()  # refused before anything was started


def test_a_mission_the_autopilot_never_starts_ends_its_sortie_and_fly_says_why(run_cli, tmp_path):
    """PX4 v1.16 SITL refused a mission whose lane ended on a no-fly zone's edge ("Geofence
    violation for waypoint N"), ACKed AUTO.MISSION and hovered over home for good, while
    `fly` waited on it. Now the sortie ends when the mission has not started, the drone comes
    home, and the search ends partial (exit 1) with the autopilot's words."""
    pytest.importorskip("sim.fleet")
    from tests.groundctl.fleet.planfix import at

    plan = make_plan(segments=1, lanes_per_sortie=2)
    # The first lane ends 60 m east of its start, 1 cm inside this zone (PX4 counts it in).
    hole = (at(-10, 99.99), at(-10, 130), at(10, 130), at(10, 99.99))
    plan.model_copy(update={"holes": (hole,)}).dump(tmp_path / "p.json")
    t0 = time.monotonic()
    r = run_cli(
        "fly", "p.json", "--sim", "1", "--speedup", "50", "--no-live", "--db", "op.sqlite",
        timeout=170,
    )  # fmt: skip
    assert r.returncode == 1, r.stdout + r.stderr
    out = r.stdout + r.stderr
    assert "mission did not start" in out and "Switching to Mission is currently" in out
    assert time.monotonic() - t0 < 150
    sorties, events, _ = _journal(tmp_path / "op.sqlite")
    assert sorties and all(not s.detail.get("swept") for s in sorties)
    assert any("Geofence violation for waypoint" in e.message for e in events)
    assert all(s.status != "flying" for s in sorties)  # every sortie ended, none left hovering
