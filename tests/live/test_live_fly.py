"""`groundctl fly` searching live: simulated drones over real MAVLink sockets, their simulated
thermal cameras as real TCP frame streams, hits in the operation database, overwatch, MQTT."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import os
import socket
import sys
import time

import aiomqtt
import pytest
import yaml
from rich.console import Console

from groundctl import config
from groundctl.fleet.config import parse_fleet
from groundctl.fleet.journal import Journal
from groundctl.fleet.live_ops import LiveOps, ThermalOptions
from groundctl.fleet.orchestrator import Orchestrator
from groundctl.fleet.simfleet import start_sim
from groundctl.link.manager import LinkManager
from groundctl.store import Store
from missions.plan import Plan
from tests.live.livefix import PERSON, STRIP, distance_m, write_plan, write_scenario

pytest.importorskip("sim.world")
pytestmark = pytest.mark.slow

SPEEDUP = 5.0  # the camera streams at most 9 frames per WALL second: keep the drones slow


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def retained_hits(url: str, topic: str, wait_s: float = 5.0) -> dict[str, dict]:
    """Every retained hit message under `topic` (what a late-joining command centre gets)."""
    host, port = url.removeprefix("mqtt://").split(":")
    out: dict[str, dict] = {}
    async with aiomqtt.Client(host, int(port), identifier="live-test-centre") as client:
        await client.subscribe(topic, qos=1)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(wait_s):
                async for msg in client.messages:
                    out[str(msg.topic).rsplit("/", 1)[-1]] = json.loads(msg.payload)
    return out


# The run's own 240 s limit must fire before the suite's 180 s one, which would leave the
# `groundctl fly` process (and its simulated drones) running after the test.
@pytest.mark.timeout(300)
async def test_simulated_search_finds_the_person_watches_and_dispatches(tmp_path, live_broker):
    plan = write_plan(tmp_path, drones=2)
    scenario = write_scenario(tmp_path)
    dispatch = tmp_path / "dispatch.yaml"
    dispatch.write_text(yaml.safe_dump({"dispatch": {"mqtt": {"url": live_broker.url}}}))
    db, geojson = tmp_path / "op.sqlite", tmp_path / "out" / "hits.geojson"
    env = {k: v for k, v in os.environ.items() if k != "GROUNDCTL_CONFIG"}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "groundctl", "fly", str(plan), "--sim", "2",
        "--scenario", str(scenario), "--speedup", str(SPEEDUP), "--no-live",
        "--operation", "livetest", "--db", str(db), "--sim-found-after", "20",
        "--dispatch-config", str(dispatch), "--hits-geojson", str(geojson),
        cwd=tmp_path, env={**env, "HOME": str(tmp_path), "COLUMNS": "200"},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    try:
        out_b, _ = await asyncio.wait_for(proc.communicate(), timeout=240)
    except TimeoutError:
        proc.kill()
        rest = await proc.stdout.read() if proc.stdout else b""
        pytest.fail(f"groundctl fly did not finish:\n{rest.decode()[-4000:]}")
    finally:
        if proc.returncode is None:  # cancelled: never leave the run behind
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
    out = out_b.decode()
    assert proc.returncode == 0, out[-3000:]
    assert "search complete: 100%" in out
    assert "hit(s) in the operation database" in out  # the hits table at the end

    with Store.open(db) as store:
        hits = store.hits()
        people = [h for h in hits if h.target_class == "person"]
        assert people, out[-3000:]
        found = min(people, key=lambda h: distance_m((h.lat, h.lon), PERSON))
        assert distance_m((found.lat, found.lon), PERSON) < 5.0
        assert found.sighting_count >= 2 and set(found.vehicle_ids) <= {1, 2}
        events = store.events()
        started = [e.message for e in events if e.kind == "overwatch_start"]
        ended = [e.message for e in events if e.kind == "overwatch_end"]
        assert found.id in started and found.id in ended  # the hit drove an overwatch
        assert found.status == "found"  # ended by the (simulated) ground team's report
        assert store.pending_count() == 0  # every sink delivered everything
    doc = json.loads(geojson.read_text())
    assert found.id in {f["properties"]["id"] for f in doc["features"]}
    sent = await retained_hits(live_broker.url, "groundctl/livetest/hits/+")
    assert found.id in sent, sorted(sent)
    progress = await retained_hits(live_broker.url, "groundctl/livetest/progress", wait_s=2.0)
    assert progress["progress"]["swept_pct"] > 0  # the search's progress went out too


async def test_a_camera_stream_killed_mid_flight_comes_back_and_finds_the_person(tmp_path):
    plan = Plan.load(write_plan(tmp_path, drones=1, area=STRIP))
    from sim.fleet import world_terrain
    from sim.world import load_scenario

    world = load_scenario(write_scenario(tmp_path, area=STRIP))
    sim = await start_sim(plan, 1, speedup=SPEEDUP, terrain=world_terrain(world))
    mgr = LinkManager(gcs_sysid=245)
    run = None
    ops = None
    try:
        port = free_port()
        (camera,) = await sim.fleet.start_cameras(world, config.camera("h20t"), base_port=port)
        url, sysid = sim.endpoints[0]
        fleet = parse_fleet(
            {
                "operation": "restart",
                "vehicles": [
                    {
                        "name": "d1",
                        "connection": url,
                        "airframe": "mavic3t",
                        "sysid": sysid,
                        "camera": "h20t",
                        "camera_stream": f"tcp://127.0.0.1:{port}",
                    }
                ],
            },
            "test",
        )
        sim.name_drones(["d1"])
        vehicles = {"d1": await mgr.vehicle(url, sysid=sysid, timeout_s=30)}
        journal = Journal.open(tmp_path / "op.sqlite", "restart", plan)
        orch = Orchestrator(
            plan,
            fleet,
            vehicles,
            journal,
            {"mavic3t": config.airframe("mavic3t")},
            time_scale=SPEEDUP,
            battery_swap=sim.swap_battery,
            lost_after_s=4.0,
        )
        ops = LiveOps.start(
            orch, fleet, journal.store, ThermalOptions(found_after_s=10.0), None,
            SPEEDUP, None, Console(file=io.StringIO()),
        )  # fmt: skip
        assert ops is not None and ops.live is not None
        st = ops.live.status["d1"]
        run = asyncio.create_task(orch.run())
        deadline = time.monotonic() + 60
        while st.processed < 3:
            assert time.monotonic() < deadline and not run.done(), "no frames"
            await asyncio.sleep(0.1)
        # The payload goes away (a camera reboot, a dropped video link) while the drone climbs.
        await camera.stop()
        while st.state == "live":
            await asyncio.sleep(0.05)
        await asyncio.sleep(1.0)
        cut_at = sim.fleet.clock.unix_s()
        assert not run.done()
        await camera.start()
        await asyncio.wait_for(run, timeout=150)
        assert orch.fraction_swept == 1.0 and not orch.lost
        assert st.reconnects >= 1 and st.state == "live"
        people = [h for h in journal.store.hits() if h.target_class == "person"]
        assert people
        found = min(people, key=lambda h: distance_m((h.lat, h.lon), PERSON))
        assert distance_m((found.lat, found.lon), PERSON) < 5.0
        assert found.first_seen > cut_at  # seen only through the restarted stream
        assert found.id in orch.watches  # and it started an overwatch
        assert orch.views["d1"].hits >= 1
    finally:
        if run is not None and not run.done():
            run.cancel()
            with contextlib.suppress(BaseException):
                await run
        if ops is not None:
            await ops.close()
        await mgr.close()
        await sim.stop()


def _fleet_yaml(tmp_path, **vehicle) -> str:
    doc = {
        "operation": "cfgtest",
        "vehicles": [
            {"name": "alpha", "connection": "udpin://127.0.0.1:14999", "airframe": "mavic3t"}
            | vehicle
        ],
    }
    path = tmp_path / "fleet.yaml"
    path.write_text(yaml.safe_dump(doc))
    return str(path)


@pytest.mark.parametrize(
    ("vehicle", "key", "reason"),
    [
        (
            {"camera": "h20t", "camera_stream": "rtsp://10.0.0.2:554/live"},
            "fleet.vehicles.0.camera_stream",
            "scheme must be tcp://",
        ),
        (
            {"camera": "h20t", "camera_stream": "tcp://10.0.0.2"},
            "fleet.vehicles.0.camera_stream",
            "needs host and port",
        ),
        (
            {"camera": "flir-nope", "camera_stream": "tcp://10.0.0.2:5600"},
            "fleet.vehicles.0.camera",
            "no camera named 'flir-nope'",
        ),
        ({"camera_stream": "tcp://10.0.0.2:5600"}, "fleet.vehicles.0", "camera_stream needs"),
    ],
)
def test_bad_camera_in_the_fleet_file_is_a_clear_error(tmp_path, run_cli, vehicle, key, reason):
    from tests.groundctl.fleet.planfix import make_plan

    plan = tmp_path / "plan.json"
    plan.write_text(make_plan(segments=1).to_json())
    r = run_cli("fly", str(plan), "--fleet", _fleet_yaml(tmp_path, **vehicle), "--no-live")
    assert r.returncode == 2, r.stdout + r.stderr
    err = r.stderr.strip()
    assert err.startswith("groundctl: error:") and "Traceback" not in r.stderr
    assert key in err and reason in err


def test_scenario_needs_sim(tmp_path, run_cli):
    from tests.groundctl.fleet.planfix import make_plan

    plan = tmp_path / "plan.json"
    plan.write_text(make_plan(segments=1).to_json())
    scenario = write_scenario(tmp_path)
    r = run_cli(
        "fly", str(plan), "--connect", "udpin://127.0.0.1:14998", "--scenario", str(scenario)
    )
    assert r.returncode == 2 and "--scenario" in r.stderr and "only with --sim" in r.stderr
    r = run_cli("fly", str(plan), "--sim", "1", "--scenario", str(tmp_path / "nope.yaml"))
    assert r.returncode == 2 and "scenario file not found" in r.stderr
