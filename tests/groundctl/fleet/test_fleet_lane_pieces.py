"""A lane flown in two pieces by two sorties is resumed piece by piece after a restart."""

from __future__ import annotations

import json

from groundctl import config
from groundctl.fleet.config import parse_fleet
from groundctl.fleet.journal import Journal
from groundctl.fleet.orchestrator import Orchestrator
from groundctl.fleet.sortie import planned_jobs
from missions.plan import Plan
from tests.groundctl.fleet.planfix import make_plan


def _with_shared_piece_id(plan: Plan) -> str:
    """The plan as older planners wrote it: the second sortie's first lane is the second piece
    of the first sortie's last lane, under the same id."""
    raw = json.loads(plan.to_json())
    s0, s1 = raw["segments"][0]["sorties"]
    first, second = s0["lane_ids"][-1], s1["lane_ids"][0]
    for s in (s1,):
        s["lane_ids"] = [first if x == second else x for x in s["lane_ids"]]
        for w in s["waypoints"]:
            if w["lane_id"] == second:
                w["lane_id"] = first
    seg = raw["segments"][0]
    seg["lane_ids"] = list(dict.fromkeys(x for s in seg["sorties"] for x in s["lane_ids"]))
    return json.dumps(raw)


def test_second_piece_of_a_split_lane_is_still_flown_after_a_restart(tmp_path):
    path = tmp_path / "old-plan.json"
    path.write_text(_with_shared_piece_id(make_plan(1, lanes_per_sortie=2, sorties_per_segment=2)))
    plan = Plan.load(path)
    s0, s1 = plan.sorties
    assert not set(s0.lane_ids) & set(s1.lane_ids)  # one id per piece once loaded
    fleet = parse_fleet(
        {
            "operation": "restart",
            "vehicles": [
                {
                    "name": "a",
                    "connection": "udpin://127.0.0.1:14540",
                    "airframe": "mavic3t",
                    "launch": {"lat": s0.launch[0], "lon": s0.launch[1]},
                }
            ],
        },
        "test",
    )
    airframes = {"mavic3t": config.airframe("mavic3t")}
    journal = Journal.open(tmp_path / "op.sqlite", "restart", plan)
    # Before the ground station went down, sortie 0 swept its lanes, the first piece included.
    sid = journal.add_job(planned_jobs(plan)[0], "a", 1, "hash")
    journal.update_job(sid, status="done", swept=s0.lane_ids)
    journal.close()

    journal = Journal.open(tmp_path / "op.sqlite", "restart", plan)
    orch = Orchestrator(plan, fleet, {"a": None}, journal, airframes)  # type: ignore[dict-item]
    orch.assign_plan()
    queued = [job.lanes for job in orch.queues["a"]]
    assert queued == [s1.lane_ids]  # the second piece is not taken for swept
    assert orch.fraction_swept == 0.5
    journal.close()
