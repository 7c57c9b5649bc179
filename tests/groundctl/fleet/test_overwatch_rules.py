"""Overwatch follows the evidence (issue #14, issue #18 item 10): it holds only a confirmed
person, never starts a second watch on one body, and never takes the last searching drone
while lanes remain and people are still missing. Against the simulator, over real MAVLink."""

from __future__ import annotations

import asyncio
import time

import pytest

from groundctl.fleet import watchrules
from groundctl.fleet.simfleet import start_sim
from groundctl.link.manager import LinkManager
from groundctl.store import Ack
from tests.groundctl.fleet.planfix import at, make_plan
from tests.groundctl.fleet.test_fleet_sim import connect, orchestrator, wait_until
from thermal.hit import Hit, Sighting

pytest.importorskip("sim.fleet")

# Slower than the other fleet tests: the search must still be on while the hits come in.
SPEEDUP = 10.0


def person(hit_id: str, north: float, east: float, vehicles=(), looks_from=(), unc=1.0) -> Hit:
    """A person hit at (north, east) of the plan's origin, with sightings looked at from the
    given (north, east) camera positions."""
    lat, lon = at(north, east)
    sightings = tuple(
        Sighting(k, float(k), vehicles[0] if vehicles else None, lat, lon, unc, "person", 0.9,
                 camera_at=at(*cam))
        for k, cam in enumerate(looks_from)
    )  # fmt: skip
    return Hit(hit_id, "person", 0.9, lat, lon, unc, 0.0, 1.0, sightings, tuple(vehicles))


def test_the_rules_themselves():
    her = person("a", 60, 120)
    assert watchrules.same_person(her, person("b", 61.2, 120))  # 1.2 m from her
    assert watchrules.same_person(her, person("c", 60, 122.6))  # 2.6 m
    assert not watchrules.same_person(her, person("d", 60, 135))
    assert watchrules.confirmed_person((3,), 4.0, None) == ""
    assert watchrules.confirmed_person((3,), 12.0, None)
    assert watchrules.confirmed_person((3, 4), 0.0, None)
    assert watchrules.confirmed_person((3,), 0.0, "team_dispatched")
    assert not watchrules.confirmed_person((3,), 0.0, "received")
    # two people missing, none held yet: the first watch may not take the last searcher
    assert watchrules.must_keep_searcher(2, 0, lanes_remain=True)
    assert not watchrules.must_keep_searcher(1, 0, lanes_remain=True)
    assert not watchrules.must_keep_searcher(2, 1, lanes_remain=True)
    assert not watchrules.must_keep_searcher(2, 0, lanes_remain=False)


@pytest.mark.slow
async def test_one_look_waits_a_second_position_confirms_and_one_body_is_one_watch(tmp_path):
    plan = make_plan(segments=2, lanes_per_sortie=5, lane_len_m=100)
    sim = await start_sim(plan, 2, speedup=SPEEDUP)
    mgr = LinkManager(gcs_sysid=245)
    sim.name_drones(["a", "b"])
    try:
        fleet, vehicles = await connect(sim, mgr, ["a", "b"])
        orch = orchestrator(plan, fleet, vehicles, tmp_path / "op.sqlite", sim)
        store = orch.journal.store
        sysid_a, sysid_b = (vehicles[n].sysid for n in ("a", "b"))
        run = asyncio.create_task(orch.run())
        # Drone a saw her three times from (nearly) one spot: no overwatch yet.
        once = person("p1", 60, 120, (sysid_a,), [(58, 110), (59, 110), (60, 111)])
        store.upsert_hit(once)
        orch.note_hit(once)
        await wait_until(
            lambda: any(e.kind == "overwatch_unconfirmed" for e in store.events()),
            10,
            "unconfirmed",
        )
        await asyncio.sleep(2.5)
        assert "p1" not in orch.watches
        # The next pass sees her from 30 m further on: confirmed, held.
        twice = person("p1", 60, 120, (sysid_a,), [(58, 110), (60, 111), (60, 140)])
        store.upsert_hit(twice)
        orch.note_hit(twice)
        await wait_until(lambda: "p1" in orch.watches, 10, "overwatch of the confirmed person")
        # Her legs, 2.6 m away, confirmed by both drones: the same body, no second watch.
        legs = person("p2", 60, 122.6, (sysid_a, sysid_b))
        store.upsert_hit(legs)
        await wait_until(lambda: "p2" in orch.duplicate_of, 10, "duplicate noticed")
        await asyncio.sleep(2.5)
        assert set(orch.watches) == {"p1"} and orch.duplicate_of["p2"] == "p1"
        assert orch.overwatch(person("p3", 61.2, 120, (sysid_b,))) is None  # 1.2 m from her
        assert [e.kind for e in store.events()].count("overwatch_start") == 1
        store.add_ack(Ack("ack1", "p1", "found", time.time()))
        await asyncio.wait_for(run, timeout=120)
        assert orch.fraction_swept == 1.0
    finally:
        await mgr.close()
        await sim.stop()


@pytest.mark.slow
async def test_the_last_searching_drone_searches_on_while_people_are_missing(tmp_path):
    plan = make_plan(segments=2, lanes_per_sortie=4, lane_len_m=100)
    sim = await start_sim(plan, 2, speedup=SPEEDUP)
    mgr = LinkManager(gcs_sysid=245)
    sim.name_drones(["a", "b"])
    try:
        fleet, vehicles = await connect(sim, mgr, ["a", "b"])
        orch = orchestrator(plan, fleet, vehicles, tmp_path / "op.sqlite", sim, missing=3)
        store = orch.journal.store
        run = asyncio.create_task(orch.run())
        await wait_until(
            lambda: all(v.phase == "search" for v in orch.views.values()), 60, "both searching"
        )
        w1 = orch.overwatch(person("p1", 20, 60))
        await wait_until(lambda: len(w1.open) == 1, 60, "first person held")
        (holder,) = w1.open
        (searcher,) = set(orch.views) - {holder}
        # A second person far off: one of three is still missing after her, lanes remain.
        w2 = orch.overwatch(person("p2", 60, 170))
        assert w2 is not None
        seen_searching = 0
        while not orch.search_done():
            assert not w2.open and searcher not in w2.arrived
            assert orch.views[searcher].phase not in ("to target", "overwatch")
            seen_searching += orch.views[searcher].phase == "search"
            await asyncio.sleep(0.2)
        assert seen_searching > 5
        unstaffed = [e for e in store.events() if e.kind == "overwatch_unstaffed"]
        assert unstaffed and unstaffed[0].severity == "warning"
        assert any(e.kind == "search_for" and e.data["missing"] == 3 for e in store.events())
        # The lanes are done: now the second person gets a drone.
        await wait_until(lambda: len(w2.open) == 1, 90, "second person held after the search")
        orch.end_overwatch("p1")
        orch.end_overwatch("p2")
        await asyncio.wait_for(run, timeout=120)
        assert orch.fraction_swept == 1.0
    finally:
        await mgr.close()
        await sim.stop()


def test_fly_missing_is_checked_and_recorded(run_cli, tmp_path):
    from groundctl.store import Store

    plan = tmp_path / "p.json"
    make_plan(segments=1, lanes_per_sortie=2).dump(plan)
    bad = run_cli("fly", str(plan), "--sim", "1", "--missing", "0")
    assert bad.returncode == 2 and "--missing" in bad.stderr
    r = run_cli(
        "fly", str(plan), "--sim", "1", "--speedup", "50", "--no-live", "--db", "op.sqlite",
        "--missing", "2", timeout=170,
    )  # fmt: skip
    assert r.returncode == 0, r.stdout + r.stderr
    with Store.open(tmp_path / "op.sqlite") as store:
        (event,) = [e for e in store.events() if e.kind == "search_for"]
    assert event.data["missing"] == 2
