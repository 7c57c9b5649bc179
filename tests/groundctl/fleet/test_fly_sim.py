"""The fleet against the simulator (PX4 and ArduPilot flavours), over real MAVLink sockets."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from groundctl import config
from groundctl.fleet.config import parse_fleet
from groundctl.fleet.journal import Journal
from groundctl.fleet.orchestrator import Orchestrator
from groundctl.fleet.simfleet import SimHandle, start_sim
from groundctl.link.manager import LinkManager
from missions.plan import Plan
from tests.groundctl.fleet.planfix import make_plan

# The simulator lands in its own commits; until then these tests cannot run.
pytest.importorskip("sim.fleet")
pytestmark = pytest.mark.slow

SPEEDUP = 25.0


async def connect(sim: SimHandle, mgr: LinkManager, names: list[str]):
    fleet = parse_fleet(
        {
            "operation": "simtest",
            "vehicles": [
                {"name": n, "connection": url, "airframe": "mavic3t", "sysid": sysid}
                for n, (url, sysid) in zip(names, sim.endpoints, strict=True)
            ],
            "battery_swap_s": 60,
        },
        "test",
    )
    vehicles = {}
    for v in fleet.vehicles:
        vehicles[v.name] = await mgr.vehicle(v.connection, sysid=v.sysid, timeout_s=30)
    return fleet, vehicles


def orchestrator(plan: Plan, fleet, vehicles, db: Path, sim: SimHandle, **kw) -> Orchestrator:
    journal = Journal.open(db, fleet.operation, plan)
    return Orchestrator(
        plan,
        fleet,
        vehicles,
        journal,
        {"mavic3t": config.airframe("mavic3t")},
        time_scale=sim.fleet.speedup,
        battery_swap=sim.swap_battery,
        lost_after_s=kw.pop("lost_after_s", 6.0),
        **kw,
    )


@pytest.mark.parametrize("flavour", ["px4", "ardupilot"])
async def test_three_drones_sweep_the_plan(tmp_path, flavour):
    plan = make_plan(segments=3, lanes_per_sortie=2)
    sim = await start_sim(plan, 3, flavour=flavour, speedup=SPEEDUP)
    mgr = LinkManager(gcs_sysid=245)
    names = ["a", "b", "c"]
    sim.name_drones(names)
    try:
        fleet, vehicles = await connect(sim, mgr, names)
        orch = orchestrator(plan, fleet, vehicles, tmp_path / "op.sqlite", sim)
        await asyncio.wait_for(orch.run(), timeout=150)
        assert orch.fraction_swept == 1.0
        assert orch.lost == set()
        flown = {n for n in names if orch.uploads[n] > 0}
        assert flown == set(names)  # every drone got work
        for v in sim.fleet.vehicles:
            assert not v.armed
        kinds = [c.command for c in orch.journal.store.commands()]
        assert kinds.count("upload_mission") == 3 and "arm" in kinds and "start_mission" in kinds
    finally:
        await mgr.close()
        await sim.stop()
