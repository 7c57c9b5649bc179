"""`fly` keeps its drone when a second vehicle takes its system id (issue #18 item 1).

The issue's reproduction, as a user would run it: `groundctl sim` sends to the port `fly`
listens on; mid-mission a second `groundctl sim` with the same system id starts sending to
that port too. The flying drone must not be merged with it, marked lost or given up: the
alarm is journaled with both sources, and Ctrl-C with --on-exit rtl still brings it home.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time

import pytest

from groundctl.store import Store
from tests.groundctl.fleet.planfix import make_plan
from tests.groundctl.fleet.test_fleet_cli import _sim_cli

pytestmark = [pytest.mark.timeout(240), pytest.mark.slow]


def _free_udp_port() -> int:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def _wait_db(db, what, timeout_s: float):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        time.sleep(0.5)
        if db.exists():
            with contextlib.suppress(Exception):
                s = Store.open(db)
                try:
                    found = what(s)
                finally:
                    s.close()
                if found:
                    return found
    return None


def test_second_sim_with_same_sysid_does_not_abandon_the_flying_drone(tmp_path):
    pytest.importorskip("sim.fleet")
    plan = tmp_path / "p.json"
    make_plan(segments=1, lanes_per_sortie=10, lane_len_m=300).dump(plan)
    port = _free_udp_port()
    sims = []
    env = {k: v for k, v in os.environ.items() if k != "GROUNDCTL_CONFIG"}
    env.update(HOME=str(tmp_path), COLUMNS="200")
    fly = None
    try:
        sims.append(_sim_cli(tmp_path, "--gcs-port", str(port), "--gcs-local-base-port", "0")[0])
        fly = subprocess.Popen(
            [
                sys.executable, "-m", "groundctl", "fly", str(plan), "--connect",
                f"udpin://127.0.0.1:{port}", "--on-exit", "rtl", "--no-live", "--db", "op.sqlite",
            ],
            cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        db = tmp_path / "op.sqlite"
        started = _wait_db(
            db, lambda s: [c for c in s.commands() if c.command == "start_mission"], 90
        )
        assert started, "the mission started"
        time.sleep(2.0)
        sims.append(
            _sim_cli(
                tmp_path, "--gcs-port", str(port), "--gcs-local-base-port", "0",
                "--home", "47.41,8.56", "--seed", "7",
            )[0]
        )  # fmt: skip
        dup = _wait_db(db, lambda s: s.events(kind="vehicle.duplicate_sysid"), 30)
        assert dup, "the duplicate system id is journaled"
        time.sleep(4.0)  # both talk to fly's port meanwhile
        assert fly.poll() is None, "fly is still flying the plan"
        fly.send_signal(signal.SIGINT)
        out, err = fly.communicate(timeout=60)
    finally:
        if fly is not None and fly.poll() is None:
            fly.kill()
            fly.communicate()
        for p in sims:
            p.terminate()
            p.communicate(timeout=30)
    assert fly.returncode == 130, out + err
    assert "all drones ordered to return to launch" in out
    s = Store.open(tmp_path / "op.sqlite")
    events = s.events(sysid=1)
    kinds = [e.kind for e in events]
    assert "vehicle.rebooted" not in kinds and "link_lost" not in kinds, kinds
    assert "vehicle_lost" not in " ".join(kinds), kinds
    msg = next(e.message for e in events if e.kind == "vehicle.duplicate_sysid")
    assert msg.count("127.0.0.1:") == 2, msg  # both sources named
    rtl = [c for c in s.commands() if c.command == "RTL" and c.params.get("reason") == "operator"]
    assert [(c.sysid, c.result) for c in rtl] == [(1, "ACCEPTED")]
    s.close()
