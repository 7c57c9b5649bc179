"""`groundctl fly` argument and input errors: exit 2, one line, no traceback."""

from __future__ import annotations

from groundctl.fleet.orchestrator import DroneView
from groundctl.fleet.view import fleet_table
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
        "area swept: 50%",
    ):
        assert needle in text
