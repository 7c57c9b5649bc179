"""groundctl against a real autopilot SITL (see conftest.py for how to point it at one).

The order is the order of a working day: plans, a flight, whole searches with both backends,
a second search of the same plan, a battery-swap chain, the ground station killed and
started again, a refused start, and last a vehicle killed in flight (it stays down).
"""

from __future__ import annotations

import asyncio
import json
import re
import signal
import time
from pathlib import Path

import numpy as np
import pytest
import shapely

from groundctl.link import LinkManager, MissionType
from groundctl.store import Store
from sim.conformance import CASES, RESULT_NAMES
from tests.sitl.conftest import (
    HERE,
    assert_tracks_fly_every_lane,
    connect_args,
    groundctl,
    kill_vehicle,
    plan_for,
    pymavlink_url,
    start_fly,
    wait_for_db,
)
from tests.sitl.mavgcs import Gcs

pytestmark = [pytest.mark.sitl, pytest.mark.timeout(1500)]


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("sitl")


@pytest.fixture(scope="module")
def plan3(workdir, urls) -> Path:
    return plan_for(workdir, min(3, len(urls)), name="plan3.json")


def test_mission_items_answered_as_the_table_says(urls, record):
    record["checked"] = (
        f"upload: {len(CASES)} mission/fence/rally items, MAV_MISSION_RESULT of each"
    )
    g = Gcs(pymavlink_url(urls[0]))
    try:
        wrong = []
        for case in CASES:
            got = g.upload_case(case).result
            if got != case.expect[g.flavour]:
                wrong.append(f"{case.what}: {RESULT_NAMES.get(got, got)}")
        assert not wrong, wrong
    finally:
        g.close()


def test_mission_index_kept_across_uploads(urls, record):
    record["checked"] = (
        "index after upload (kept, capped), MISSION_SET_CURRENT (overtaken right after an "
        "upload), DO_SET_MISSION_CURRENT refused"
    )
    g = Gcs(pymavlink_url(urls[0]))
    try:
        if g.flavour != "px4":
            pytest.skip("PX4's index rules")
        assert g.upload(g.waypoints(4, 7)).result == 0
        assert g.command(224, 1) == 3  # UNSUPPORTED
        g.set_current_message(3)
        time.sleep(0.5)
        assert g.current() == 3
        assert g.upload(g.waypoints(6, 8)).result == 0
        assert g.current() == 3
        assert g.upload(g.waypoints(2, 9)).result == 0
        assert g.current() == 1
        # MISSION_SET_CURRENT at once after an upload that changed the mission: overtaken by
        # the navigator's answer (the kept index); sent again, it takes.
        assert g.upload(g.waypoints(5, 10), settle_s=0.0).result == 0
        g.set_current_message(0)
        time.sleep(0.5)
        assert g.current() == 1
        g.set_current_message(0)
        time.sleep(0.5)
        assert g.current() == 0
    finally:
        g.close()


@pytest.mark.parametrize("backend", ["pymavlink", "mavsdk"])
async def test_plans_upload_and_read_back(urls, record, plan3, backend):
    record["checked"] = f"upload mission, geofence, rally ({backend}); held plans match on board"
    from groundctl.fleet.sortie import build_mission, fence_items
    from groundctl.link import coerce_items
    from missions.plan import Plan

    plan = Plan.load(plan3)
    items, _ = build_mission(plan.sorties[0], 30.0)
    fence = fence_items(plan, [plan.sorties[0].launch])
    lat, lon = plan.sorties[0].launch
    rally = [{"frame": 3, "command": 5100, "lat": lat + 1e-4, "lon": lon, "z": 30.0}]
    mgr = LinkManager(gcs_sysid=245)
    try:
        v = await mgr.vehicle(urls[0], sysid=1, backend=backend, timeout_s=30)
        for what, mt in ((items, MissionType.MISSION), (fence, MissionType.FENCE),
                         (rally, MissionType.RALLY)):  # fmt: skip
            await v.mission.upload(what, mt)
            assert await v.mission.matches(what, mt), mt
            assert not await v.mission.upload_if_changed(what, mt)
        assert len(await v.mission.download(MissionType.FENCE)) == len(coerce_items(fence))
    finally:
        await mgr.close()


async def test_arm_takeoff_return_and_land(urls, record):
    record["checked"] = "arm, take-off to 10 m, RTL, landing and disarm (pymavlink)"
    mgr = LinkManager(gcs_sysid=245)
    try:
        v = await mgr.vehicle(urls[0], sysid=1, timeout_s=30)
        await v.telemetry.wait_for(lambda s: s.home is not None, 60, "home")
        await v.action.arm()
        await v.action.takeoff(10.0)
        await v.telemetry.wait_for(
            lambda s: s.position is not None and s.position.alt_rel_m > 8.0, 90, "10 m"
        )
        await v.action.return_to_launch()
        await v.telemetry.wait_for(lambda s: not s.armed and not s.in_air, 180, "landed")
    finally:
        await mgr.close()


@pytest.mark.parametrize("backend", ["pymavlink", "mavsdk"])
def test_fly_three_vehicles(urls, record, workdir, plan3, backend):
    n = min(3, len(urls))
    record["checked"] = f"fly: {n} vehicles, whole plan ({backend}); lanes confirmed by the tracks"
    db = workdir / f"fly-{backend}.sqlite"
    fleet = workdir / f"fleet-{backend}.yaml"
    fleet.write_text(
        f"operation: sitl-{backend}\nvehicles:\n"
        + "".join(
            f"  - {{name: v{i + 1}, connection: '{u}', airframe: mavic3t, backend: {backend}, "
            f"sysid: {i + 1}}}\n"
            for i, u in enumerate(urls[:n])
        )
    )
    r = groundctl("fly", str(plan3), "--fleet", str(fleet), "--no-live", "--db", str(db),
                  cwd=workdir)  # fmt: skip
    assert r.returncode == 0, r.stdout + r.stderr
    assert "search complete: 100% of lanes swept" in r.stdout
    assert "MAVLink:" not in r.stdout + r.stderr  # no MAVSDK log lines on the terminal
    record["detail"] = f"{assert_tracks_fly_every_lane(db)} sorties"
    s = Store.open(db)
    fences = [c for c in s.commands() if c.command == "upload_fence"]
    assert all(sum(c.sysid == i for c in fences) <= 1 for i in range(1, n + 1))


def test_fly_round_a_no_fly_zone(urls, record, workdir):
    """Lanes that end at a no-fly zone and transits round it: the default clearance keeps
    every drone out of the exclusion fence as it turns (a lane ending on the fence's edge
    made the drones run on into it and be held by "Geofence breached")."""
    n = min(3, len(urls))
    plan = plan_for(workdir, n, name="nofly.json", area="sih_field_nofly")
    record["checked"] = f"fly: {n} vehicles round a no-fly zone; no fence breach, every lane"
    db = workdir / "nofly.sqlite"
    r = groundctl("fly", str(plan), *connect_args(urls[:n]), "--no-live", "--db", str(db),
                  cwd=workdir)  # fmt: skip
    assert r.returncode == 0, r.stdout + r.stderr
    assert "search complete: 100% of lanes swept" in r.stdout
    assert "breach" not in (r.stdout + r.stderr).lower()  # PX4: "Geofence breached"
    sorties = assert_tracks_fly_every_lane(db)
    hole = shapely.Polygon(
        json.loads((HERE / "sih_field_nofly.geojson").read_text())["features"][0]["geometry"][
            "coordinates"
        ][1]
    )
    s = Store.open(db)
    try:
        pts = [(p.lon, p.lat) for i in range(1, n + 1) for p in s.track(i) if p.alt_rel_m > 2]
    finally:
        s.close()
    inside = shapely.contains_xy(hole, np.array(pts))
    assert not inside.any(), f"{int(inside.sum())} track points inside the no-fly zone"
    margin = json.loads(plan.read_text())["hole_margin_m"]
    record["detail"] = f"{sorties} sorties, hole margin {margin:g} m, no track point inside"


def test_second_fly_of_the_same_plan(urls, record, workdir, plan3):
    record["checked"] = "a second fly of the same plan right after: every lane from item 0"
    db = workdir / "second.sqlite"
    r = groundctl("fly", str(plan3), *connect_args(urls[:3]), "--no-live", "--db", str(db),
                  cwd=workdir)  # fmt: skip
    assert r.returncode == 0, r.stdout + r.stderr
    record["detail"] = f"{assert_tracks_fly_every_lane(db)} sorties"


SHORT_PACK = """\
airframes:
  shortpack:
    model: SITL quad planned with a 5-minute battery
    kind: multicopter
    cruise_speed_ms: 10
    max_speed_ms: 12
    climb_rate_ms: 3
    descent_rate_ms: 1.5
    max_accel_ms2: 3
    yaw_rate_dps: 90
    endurance_min: 5
    battery_reserve_pct: 25
    battery_wh: 10
    battery_cells: 4
    mass_kg: 1.5
    max_wind_ms: 10
"""


def test_battery_swap_sortie_chain(urls, record, workdir):
    n = min(2, len(urls))
    record["checked"] = f"battery-swap sortie chain: {n} vehicles, 2+ sorties each"
    (workdir / "cfg.yaml").write_text(SHORT_PACK)
    r = groundctl(
        "--config", "cfg.yaml", "plan", str(Path(__file__).with_name("sih_field.geojson")),
        "--camera", "h20t", "--alt", "30", "--drones", str(n), "--airframe", "shortpack",
        "--launch", "47.397742,8.545594", "-o", "chain.json", cwd=workdir,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    db = workdir / "chain.sqlite"
    r = groundctl("--config", "cfg.yaml", "fly", "chain.json", *connect_args(urls[:n]),
                  "--airframe", "shortpack", "--no-live", "--db", str(db), cwd=workdir,
                  timeout=1800)  # fmt: skip
    assert r.returncode == 0, r.stdout + r.stderr
    sorties = assert_tracks_fly_every_lane(db)
    s = Store.open(db)
    per = [sum(1 for x in s.sorties() if x.sysid == i + 1) for i in range(n)]
    assert min(per) >= 2, per
    assert not [e for e in s.events() if e.kind == "low_battery"]
    record["detail"] = f"{sorties} sorties"


def test_fly_killed_and_started_again_reattaches(urls, record, workdir, plan3):
    record["checked"] = (
        "fly interrupted (Ctrl-C, leave) then SIGKILL, run again: reattach, no re-upload, finish"
    )
    db = workdir / "killed.sqlite"
    args = (str(plan3), *connect_args(urls[:3]), "--no-live", "--db", str(db))
    n = min(3, len(urls))

    def flying(s: Store) -> bool:
        return len([c for c in s.commands() if c.command == "start_mission"]) >= n

    proc = start_fly(*args, "--on-exit", "leave", cwd=workdir)
    wait_for_db(db, flying, 300)
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 130 and "left flying" in out
    uploads_before = len([c for c in Store.open(db).commands() if c.command == "upload_mission"])

    proc = start_fly(*args, cwd=workdir)

    def reattached(s: Store) -> bool:
        return len([e for e in s.events() if e.kind == "reattached"]) >= n

    wait_for_db(db, reattached, 120)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=30)

    r = groundctl(*("fly", *args), cwd=workdir)
    assert r.returncode == 0, r.stdout + r.stderr
    s = Store.open(db)
    uploads = [c for c in s.commands() if c.command == "upload_mission"]
    assert len(uploads) == uploads_before  # reattached twice, nothing uploaded again
    record["detail"] = f"{assert_tracks_fly_every_lane(db)} sorties"


async def _set_param(urls: list[str], name: str, value: float) -> None:
    mgr = LinkManager(gcs_sysid=245)
    try:
        for i, u in enumerate(urls):
            v = await mgr.vehicle(u, sysid=i + 1, timeout_s=30)
            await v.params.set(name, value)
    finally:
        await mgr.close()


def test_refused_start_then_a_run_that_flies_everything(urls, record, workdir, plan3):
    record["checked"] = "a refused start (arming refused), then a run: every lane from item 0"
    targets = urls[:3]
    asyncio.run(_set_param(targets, "COM_ARM_AUTH_REQ", 1))
    try:
        db1 = workdir / "refused.sqlite"
        r = groundctl("fly", str(plan3), *connect_args(targets), "--no-live", "--db", str(db1),
                      cwd=workdir, timeout=600)  # fmt: skip
        assert r.returncode == 1, r.stdout + r.stderr
        assert "search incomplete" in r.stdout and "arm" in r.stdout
    finally:
        asyncio.run(_set_param(targets, "COM_ARM_AUTH_REQ", 0))
    db2 = workdir / "after-refused.sqlite"
    r = groundctl("fly", str(plan3), *connect_args(targets), "--no-live", "--db", str(db2),
                  cwd=workdir)  # fmt: skip
    assert r.returncode == 0, r.stdout + r.stderr
    record["detail"] = f"{assert_tracks_fly_every_lane(db2)} sorties"


def test_vehicle_killed_in_flight_its_lanes_go_to_the_others(urls, record, workdir, plan3):
    if len(urls) < 3:
        pytest.skip("needs 3 vehicles")
    record["checked"] = "vehicle 3 killed mid-mission: lost, its lanes flown by the others"
    db = workdir / "lost.sqlite"
    proc = start_fly(str(plan3), *connect_args(urls[:3]), "--no-live", "--db", str(db),
                     cwd=workdir)  # fmt: skip

    def v3_searching(s: Store) -> bool:
        return any(x.sysid == 3 and x.status == "flying" and x.progress > 0 for x in s.sorties())

    wait_for_db(db, v3_searching, 400)
    kill_vehicle(2)
    out, err = proc.communicate(timeout=900)
    assert proc.returncode == 0, out + err
    assert "search complete: 100% of lanes swept" in out
    assert re.search(r"v3: vehicle lost: no link", out)
    assert "lanes of v3 to" in out
    s = Store.open(db)
    lost = [x for x in s.sorties() if x.sysid == 3 and x.status == "lost"]
    assert lost
    record["detail"] = f"{len([e for e in s.events() if e.kind == 'reassigned'])} reassignments"


def test_run_after_a_lost_drones_lanes_were_reassigned(urls, record, workdir, plan3):
    if len(urls) < 3:
        pytest.skip("follows the lost-vehicle test")
    record["checked"] = "a run after a lost drone's lanes were reassigned: every lane from item 0"
    db = workdir / "after-lost.sqlite"
    r = groundctl("fly", str(plan3), *connect_args(urls[:2]), "--no-live", "--db", str(db),
                  cwd=workdir)  # fmt: skip
    assert r.returncode == 0, r.stdout + r.stderr
    record["detail"] = f"{assert_tracks_fly_every_lane(db)} sorties"
