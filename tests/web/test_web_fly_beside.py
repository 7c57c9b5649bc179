"""A search flown by `groundctl fly` in another process shows on the map: the server reads the
operation database, pushes the drone's track and the sweep to every browser, and a browser
that connects later catches up from the database."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest
from websockets.sync.client import connect as ws_connect

from tests.live.livefix import STRIP, write_plan

pytestmark = pytest.mark.slow


def messages(ws, until: float):
    while time.monotonic() < until:
        try:
            yield json.loads(ws.recv(timeout=max(0.1, until - time.monotonic())))
        except TimeoutError:
            return


@pytest.mark.timeout(200)
def test_a_fly_in_another_process_shows_on_the_map(tmp_path, serve):
    plan = write_plan(tmp_path, drones=1, area=STRIP)
    db = tmp_path / "ops" / "beside.sqlite"
    db.parent.mkdir()
    server = serve("--db", str(db))
    ws_url = server.base.replace("http://", "ws://") + "ws"
    env = {k: v for k, v in os.environ.items() if k != "GROUNDCTL_CONFIG"}
    fly = subprocess.Popen(
        [sys.executable, "-m", "groundctl", "fly", str(plan), "--sim", "1", "--speedup", "10",
         "--no-live", "--operation", "beside", "--db", str(db), "--on-exit", "rtl"],
        cwd=tmp_path, env={**env, "HOME": str(tmp_path)},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        with ws_connect(ws_url, open_timeout=10) as ws:
            first = json.loads(ws.recv(timeout=20))
            assert first["type"] == "snapshot"
            points, swept, sorties = [], None, []
            for m in messages(ws, time.monotonic() + 150):
                if m["type"] == "tracks":
                    points += m["items"]
                elif m["type"] == "swept" and m["swept"]:
                    swept = m["swept"]
                elif m["type"] == "sorties":
                    sorties = m["items"]
                if swept and swept["pct"] > 0 and len(points) > 5:
                    break
            assert fly.poll() is None, fly.stdout.read() if fly.stdout else ""
        assert swept is not None and swept["pct"] > 0 and swept["geometry"]["type"] in (
            "Polygon", "MultiPolygon",
        )  # fmt: skip
        assert {p["sysid"] for p in points} == {1}
        lats, lons = [p["lat"] for p in points], [p["lon"] for p in points]
        assert max(lats) - min(lats) + max(lons) - min(lons) > 5e-4  # the drone moved
        assert any(s["role"] == "search" and s["vehicle"] == "sim1" for s in sorties)
        # A browser connecting now gets the same from the database.
        with ws_connect(ws_url, open_timeout=10) as late:
            snap = json.loads(late.recv(timeout=20))
        assert snap["operation"]["name"] == "beside"
        assert len(snap["tracks"]) >= len(points) - 1
        assert snap["swept"]["pct"] >= swept["pct"]
        assert snap["current_plan_id"] == swept["plan_id"]
        assert list(db.parent.iterdir()) and all(
            p.name.startswith("beside.sqlite") for p in db.parent.iterdir()
        )  # nothing written beside the database
    finally:
        fly.terminate()
        try:
            fly.wait(timeout=60)
        except subprocess.TimeoutExpired:
            fly.kill()
