"""`groundctl fly` argument and input errors: exit 2, one line, no traceback."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time

import pytest

from groundctl.fleet.orchestrator import DroneView
from groundctl.fleet.view import fleet_table
from groundctl.store import Store
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


def test_ctrl_c_returns_all_drones_with_on_exit_rtl(tmp_path):
    pytest.importorskip("sim.fleet")
    plan = tmp_path / "p.json"
    make_plan(segments=2, lanes_per_sortie=10, lane_len_m=300).dump(plan)
    env = {k: v for k, v in os.environ.items() if k != "GROUNDCTL_CONFIG"}
    env.update(HOME=str(tmp_path), COLUMNS="200")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "groundctl",
            "fly",
            str(plan),
            "--sim",
            "2",
            "--speedup",
            "20",
            "--no-live",
            "--db",
            "op.sqlite",
            "--on-exit",
            "rtl",
        ],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
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
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    assert "all drones ordered to return to launch" in out
    s = Store.open(db)
    rtl = [c for c in s.commands() if c.command == "RTL" and c.params.get("reason") == "operator"]
    assert {c.sysid for c in rtl} == {1, 2} and all(c.result == "ACCEPTED" for c in rtl)
