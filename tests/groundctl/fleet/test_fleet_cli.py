"""`groundctl fly` argument and input errors: exit 2, one line, no traceback."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import time

import pytest

from groundctl.fleet.orchestrator import DroneView
from groundctl.fleet.view import fleet_table
from groundctl.store import Store
from missions.plan import Plan
from tests.groundctl.fleet.planfix import make_plan


def test_fly_needs_exactly_one_fleet_source(run_cli, tmp_path):
    plan = tmp_path / "p.json"
    make_plan().dump(plan)
    r = run_cli("fly", str(plan))
    assert r.returncode == 2
    assert "exactly one of --fleet" in r.stderr and "Traceback" not in r.stderr
    r = run_cli("fly", str(plan), "--sim", "2", "--connect", "udpin://0.0.0.0:14540")
    assert r.returncode == 2 and "exactly one" in r.stderr


def test_fly_reports_bad_plan_and_bad_fleet(run_cli, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "something else"}')
    r = run_cli("fly", str(bad), "--connect", "udpin://0.0.0.0:14540")
    assert r.returncode == 2 and "not a groundctl plan" in r.stderr
    plan = tmp_path / "p.json"
    make_plan().dump(plan)
    fleet = tmp_path / "fleet.yaml"
    fleet.write_text(
        "operation: x\nvehicles:\n  - name: a\n    connection: udpin://0.0.0.0:1\n    airframe: zzz\n"
    )
    r = run_cli("fly", str(plan), "--fleet", str(fleet))
    assert r.returncode == 2
    assert f"{fleet}: fleet.vehicles.0.airframe: no airframe named 'zzz'" in r.stderr
    r = run_cli("fly", str(plan), "--connect", "udpin://0.0.0.0:1", "--on-exit", "maybe")
    assert r.returncode == 2 and "--on-exit" in r.stderr


def test_live_table_shows_each_drone():
    from rich.console import Console

    views = [
        DroneView(
            "alpha",
            sysid=1,
            phase="search",
            mode="AUTO.MISSION",
            battery_pct=71,
            job="s0.0",
            lanes_total=4,
            lanes_swept=2,
            link_ok=True,
            heartbeat_age_s=0.4,
            hits=1,
            transit_alt_m=40,
        ),
        DroneView("bravo", sysid=2, phase="LOST", battery_pct=None, note="no link for 21 s"),
    ]
    console = Console(width=200, record=True)
    console.print(fleet_table(views, 0.5, "op"))
    text = console.export_text()
    for needle in (
        "alpha",
        "AUTO.MISSION",
        "71%",
        "2/4 lanes",
        "ok 0.4s",
        "bravo",
        "LOST",
        "lost",
        "area swept:  50%",
    ):
        assert needle in text


def test_fly_sim_sweeps_the_plan_end_to_end(run_cli, tmp_path):
    pytest.importorskip("sim.fleet")
    plan = tmp_path / "p.json"
    make_plan(segments=3, lanes_per_sortie=2).dump(plan)
    r = run_cli(
        "fly",
        str(plan),
        "--sim",
        "3",
        "--speedup",
        "50",
        "--no-live",
        "--db",
        "op.sqlite",
        timeout=170,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Pre-flight: go / no-go" in r.stdout and r.stdout.count("GO") >= 3
    assert "search complete: 100% of lanes swept" in r.stdout
    store = Store.open(tmp_path / "op.sqlite")
    done = [s for s in store.sorties() if s.status == "done"]
    assert len(done) == 3 and all(s.progress == 1.0 for s in done)


@pytest.mark.parametrize(
    ("sig", "extra", "code"),
    [(signal.SIGINT, ["--on-exit", "rtl"], 130), (signal.SIGTERM, [], 143)],
    ids=["ctrl-c", "sigterm"],
)
def test_ctrl_c_and_sigterm_return_all_drones(tmp_path, sig, extra, code):
    """Ctrl-C with --on-exit rtl, and SIGTERM with no option at all (a service manager asks
    no question: the default --on-exit applies, rtl), both bring every drone home, journal
    it and exit within seconds with a non-zero code."""
    pytest.importorskip("sim.fleet")
    plan = tmp_path / "p.json"
    make_plan(segments=2, lanes_per_sortie=10, lane_len_m=300).dump(plan)
    env = {k: v for k, v in os.environ.items() if k != "GROUNDCTL_CONFIG"}
    env.update(HOME=str(tmp_path), COLUMNS="200")
    proc = subprocess.Popen(
        [
            sys.executable, "-m", "groundctl", "fly", str(plan), "--sim", "2", "--speedup", "20",
            "--no-live", "--db", "op.sqlite", *extra,
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
        time.sleep(1.0)
        proc.send_signal(sig)
        sent = time.monotonic()
        out, err = proc.communicate(timeout=60)
        took_s = time.monotonic() - sent
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == code, err
    assert took_s < 15, f"exit took {took_s:.1f} s"
    assert "all drones ordered to return to launch" in out
    s = Store.open(db)
    rtl = [c for c in s.commands() if c.command == "RTL" and c.params.get("reason") == "operator"]
    assert {c.sysid for c in rtl} == {1, 2} and all(c.result == "ACCEPTED" for c in rtl)
    name = "SIGINT" if sig == signal.SIGINT else "SIGTERM"
    assert any(e.kind == "interrupted" and e.message == f"{name}: rtl" for e in s.events())


def _sim_cli(tmp_path, *args: str) -> tuple[subprocess.Popen[str], list[str]]:
    """`groundctl sim` on free ports; returns the process and its API URLs (udpout://)."""
    env = {k: v for k, v in os.environ.items() if k != "GROUNDCTL_CONFIG"}
    env.update(HOME=str(tmp_path), COLUMNS="250")
    proc = subprocess.Popen(
        [
            sys.executable, "-m", "groundctl", "sim", "--speedup", "10", "--gcs-port", "0",
            "--api-base-port", "0", "--api-local-base-port", "0", *args,
        ],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    lines = []
    assert proc.stdout is not None
    end = time.monotonic() + 60
    while time.monotonic() < end:
        line = proc.stdout.readline()
        lines.append(line)
        if not line or "Ctrl-C" in line:
            break
    urls = re.findall(r"udpout://127\.0\.0\.1:\d+", "".join(lines))
    return proc, urls


def test_fly_with_every_upload_refused_fails_and_says_why(tmp_path, run_cli):
    """Two simulated PX4s that cannot store a mission: nothing is flown, `fly` exits 1 and
    names the refused item, its command and frame, and the autopilot's reason."""
    pytest.importorskip("sim.fleet")
    plan = tmp_path / "p.json"
    make_plan(segments=2, lanes_per_sortie=2).dump(plan)
    sim, urls = _sim_cli(tmp_path, "--vehicles", "2", "--fault", "mission-storage")
    try:
        assert len(urls) == 2, urls
        r = run_cli(
            "fly", str(plan), "--connect", urls[0], "--connect", urls[1], "--no-live",
            "--db", "op.sqlite", timeout=150,
        )  # fmt: skip
    finally:
        sim.terminate()
        sim.communicate(timeout=30)
    assert r.returncode == 1, r.stdout + r.stderr
    out = r.stdout
    assert "search incomplete: 0% of lanes swept" in out
    assert "4 of 4 lanes not swept" in out
    assert "mission upload refused: ERROR at item 0 (NAV_TAKEOFF in GLOBAL_RELATIVE_ALT_INT)" in out
    assert "Unable to write on micro SD" in out
    assert out.count("gave up: upload refused") == 2
    assert "Traceback" not in r.stderr


SHORT_PACK = """\
airframes:
  shortpack:
    model: test quad with a 4-minute battery
    kind: multicopter
    cruise_speed_ms: 10
    max_speed_ms: 15
    climb_rate_ms: 5
    descent_rate_ms: 4
    max_accel_ms2: 4
    yaw_rate_dps: 120
    endurance_min: 4
    battery_reserve_pct: 25
    battery_wh: 10
    battery_cells: 4
    mass_kg: 0.9
    max_wind_ms: 10
"""
FIELD = (
    '{"type": "Feature", "properties": {"name": "field"}, "geometry": {"type": "Polygon", '
    '"coordinates": [[[8.5440, 47.3987], [8.5480, 47.3987], [8.5480, 47.4005], '
    "[8.5440, 47.4005], [8.5440, 47.3987]]]}}"
)


def test_fly_sim_multi_sortie_plan_sweeps_everything(tmp_path, run_cli):
    """A plan of two sorties per drone (a 4-minute battery), planned and flown as a user
    would: every lane swept, every sortie ends with its lanes done (none cut short by a low
    battery), and each drone's battery is swapped between its sorties."""
    pytest.importorskip("sim.fleet")
    (tmp_path / "cfg.yaml").write_text(SHORT_PACK)
    (tmp_path / "field.geojson").write_text(FIELD)
    r = run_cli(
        "--config", "cfg.yaml", "plan", "field.geojson", "--camera", "h20t", "--alt", "40",
        "--drones", "2", "--airframe", "shortpack", "--launch", "47.397742,8.545594",
        "-o", "plan.json",
    )  # fmt: skip
    assert r.returncode == 0, r.stdout + r.stderr
    plan = Plan.load(tmp_path / "plan.json")
    assert all(len(seg.sorties) >= 2 for seg in plan.segments)
    r = run_cli(
        "--config", "cfg.yaml", "fly", "plan.json", "--sim", "2", "--airframe", "shortpack",
        "--speedup", "30", "--no-live", "--db", "op.sqlite", timeout=170,
    )  # fmt: skip
    assert r.returncode == 0, r.stdout + r.stderr
    assert "search complete: 100% of lanes swept" in r.stdout
    store = Store.open(tmp_path / "op.sqlite")
    sorties = store.sorties()
    assert len(sorties) == len(plan.sorties)
    for s in sorties:
        assert s.status == "done" and s.progress == 1.0, s
        assert s.detail.get("end_reason") == "sortie complete", s.detail.get("end_reason")
    per_drone = {sysid: sum(1 for s in sorties if s.sysid == sysid) for sysid in (1, 2)}
    assert min(per_drone.values()) >= 2
    swaps = [e for e in store.events() if e.kind == "battery_swap"]
    assert {e.sysid for e in swaps} == {1, 2}
    assert not [e for e in store.events() if e.kind == "low_battery"]


def test_fly_refuses_a_plan_out_of_reach_of_every_drone(tmp_path, run_cli):
    """Issue #18 item 3: a plan (from a wrong area) 4,300 km from the drones, simulated at
    their usual field. `fly` refuses before anything is armed: exit 2, one line naming the
    distance."""
    pytest.importorskip("sim.fleet")
    plan = tmp_path / "p.json"
    far = (47.3977 - 38.7, 8.5456)  # 38.7 degrees of latitude south: about 4,300 km
    make_plan(segments=2, lanes_per_sortie=2, origin=far).dump(plan)
    sim, urls = _sim_cli(tmp_path, "--vehicles", "2")
    try:
        assert len(urls) == 2, urls
        r = run_cli(
            "fly", str(plan), "--connect", urls[0], "--connect", urls[1], "--no-live",
            "--db", "op.sqlite", timeout=120,
        )  # fmt: skip
    finally:
        sim.terminate()
        sim.communicate(timeout=30)
    assert r.returncode == 2, r.stdout + r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in r.stderr, r.stderr
    km = re.search(r"is ([\d,]+) km from the nearest drone home", lines[0])
    assert km and 4_200 < int(km.group(1).replace(",", "")) < 4_400, lines[0]
    assert "nothing was armed" in lines[0]
    s = Store.open(tmp_path / "op.sqlite")
    assert not [c for c in s.commands() if c.command in ("arm", "ARM", "takeoff", "start_mission")]
    s.close()
