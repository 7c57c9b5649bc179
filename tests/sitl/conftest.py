"""Conformance tests against a real autopilot SITL: PX4 v1.16 (SIH) or your own.

    GROUNDCTL_SITL_URLS=udpin://0.0.0.0:14540,udpin://0.0.0.0:14541,udpin://0.0.0.0:14542 \\
    GROUNDCTL_SITL_PIDS=/tmp/px4/i0/pid,/tmp/px4/i1/pid,/tmp/px4/i2/pid \\
    GROUNDCTL_SITL_REPORT=sitl-report.jsonl  .venv/bin/python -m pytest -m sitl tests/sitl

`GROUNDCTL_SITL_URLS` lists one MAVLink endpoint per vehicle (system ids 1, 2, 3...); every
`sitl` test is skipped without it. `GROUNDCTL_SITL_PIDS` (process ids or pid files, one per
vehicle) lets the fault tests kill a vehicle; `GROUNDCTL_SITL_REPORT` collects one JSON line
per test (what was checked, result, seconds, autopilot version, date) for the record in
docs/px4-conformance.md. Start every vehicle fresh: an autopilot keeps missions and
parameters between runs.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from groundctl.fleet.trackcheck import LaneTrack
from groundctl.store import Store

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
SIH_HOME = "47.397742,8.545594"


def sitl_urls() -> list[str]:
    return [u for u in os.environ.get("GROUNDCTL_SITL_URLS", "").split(",") if u.strip()]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if sitl_urls():
        return
    skip = pytest.mark.skip(reason="GROUNDCTL_SITL_URLS is not set (no SITL to test against)")
    for item in items:
        if item.get_closest_marker("sitl") is not None:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def urls() -> list[str]:
    return sitl_urls()


def pymavlink_url(url: str) -> str:
    """`udpin://0.0.0.0:14540` -> `udpin:0.0.0.0:14540` (for the bare pymavlink GCS)."""
    return url.replace("://", ":", 1) if url.startswith(("udpin://", "udpout://")) else url


@pytest.fixture(scope="session")
def autopilot_version(urls: list[str]) -> str:
    from tests.sitl.mavgcs import Gcs

    g = Gcs(pymavlink_url(urls[0]))
    try:
        g.mav.command_long_send(1, g.compid, 512, 0, 148, 0, 0, 0, 0, 0, 0)  # AUTOPILOT_VERSION
        m = g._recv(["AUTOPILOT_VERSION"], 5)
        if m is None:
            return f"{g.flavour} (version not reported)"
        sw = m.flight_sw_version
        return f"{g.flavour} {sw >> 24 & 255}.{sw >> 16 & 255}.{sw >> 8 & 255}"
    finally:
        g.close()


@pytest.fixture
def record(request: pytest.FixtureRequest, autopilot_version: str) -> Iterator[dict[str, Any]]:
    """Fill in `checked` (and optionally `detail`); the result and time are added here."""
    row: dict[str, Any] = {"test": request.node.name, "checked": request.node.name}
    t0 = time.monotonic()
    yield row
    report = os.environ.get("GROUNDCTL_SITL_REPORT")
    rep = getattr(request.node, "rep_call", None)
    row.update(
        result="pass" if rep is not None and rep.passed else "FAIL",
        seconds=round(time.monotonic() - t0, 1),
        autopilot=autopilot_version,
        date=datetime.now(UTC).strftime("%Y-%m-%d"),
    )
    if report:
        with open(report, "a") as f:
            f.write(json.dumps(row) + "\n")


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):
    rep = yield
    if rep.when == "call":
        item.rep_call = rep  # type: ignore[attr-defined]
    return rep


def groundctl(*args: str, cwd: Path, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "GROUNDCTL_CONFIG"}
    env.update(COLUMNS="200")
    return subprocess.run(
        [sys.executable, "-m", "groundctl", *args],
        capture_output=True, text=True, env=env, cwd=cwd, timeout=timeout,
    )  # fmt: skip


def start_fly(*args: str, cwd: Path) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if k != "GROUNDCTL_CONFIG"}
    env.update(COLUMNS="200")
    return subprocess.Popen(
        [sys.executable, "-m", "groundctl", "fly", *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=cwd,
    )  # fmt: skip


def connect_args(urls: list[str]) -> list[str]:
    return [a for u in urls for a in ("--connect", u)]


def plan_for(
    tmp: Path, drones: int, *extra: str, name: str = "plan.json", area: str = "sih_field"
) -> Path:
    """A small search of the field next to SIH's home, planned as a user would."""
    r = groundctl(
        "plan", str(HERE / f"{area}.geojson"), "--camera", "h20t", "--alt", "30",
        "--drones", str(drones), "--launch", SIH_HOME, "-o", name, *extra, cwd=tmp,
    )  # fmt: skip
    assert r.returncode == 0, r.stdout + r.stderr
    return tmp / name


def wait_for_db(db: Path, pred, timeout_s: float) -> None:
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        time.sleep(1.0)
        if not db.exists():
            continue
        try:
            s = Store.open(db)
            try:
                if pred(s):
                    return
            finally:
                s.close()
        except Exception:  # the flying process may hold a write lock for a moment
            continue
    raise AssertionError(f"{db}: condition not reached in {timeout_s:.0f} s")


def kill_vehicle(i: int) -> None:
    """Kill SITL vehicle i (SIGKILL): from GROUNDCTL_SITL_PIDS, a pid or a pid file."""
    entries = [e for e in os.environ.get("GROUNDCTL_SITL_PIDS", "").split(",") if e.strip()]
    if len(entries) <= i:
        pytest.skip("GROUNDCTL_SITL_PIDS does not name this vehicle's process")
    e = entries[i].strip()
    pid = int(Path(e).read_text().strip()) if Path(e).exists() else int(e)
    os.kill(pid, signal.SIGKILL)


def assert_tracks_fly_every_lane(db: Path, since: float = 0.0) -> int:
    """Every sortie of the run that took off: done, its lanes all swept, and each lane's start then end
    passed by the drone's own recorded track. A lane the drone was flying when a ground
    station reattached (journal: `lane_in_progress`) counts its start as passed: no ground
    station recorded the track before. Returns the number of sorties."""
    s = Store.open(db)
    try:
        in_progress: dict[int, set[int]] = {}
        for e in s.events(kind="lane_in_progress"):
            in_progress.setdefault(e.sortie_id or 0, set()).update(e.data.get("lanes", []))
        search = [x for x in s.sorties() if x.role == "search"]
        # A launch refused on the ground (never started: e.g. ArduPilot's "requires position"
        # before its EKF has GPS) is retried as a new sortie: its lanes must be flown by one.
        never = {lane for x in search if x.started_at is None for lane in x.detail["lanes"]}
        sorties = [x for x in search if x.started_at is not None and x.started_at >= since]
        assert sorties, "no search sortie was flown"
        flown = {lane for x in sorties if x.status == "done" for lane in x.detail["lanes"]}
        assert never <= flown, f"lanes {sorted(never - flown)} of a refused launch never flown"
        for so in sorties:
            d = so.detail
            assert so.status == "done", (so.id, so.status, d.get("end_reason"))
            assert sorted(d.get("swept", [])) == sorted(d["lanes"]), (so.id, d.get("end_reason"))
            wps = d["sortie"]["waypoints"]
            starts = {w["lane_id"]: (w["lat"], w["lon"]) for w in wps if w["kind"] == "lane_start"}
            ends = {w["lane_id"]: (w["lat"], w["lon"]) for w in wps if w["kind"] == "lane_end"}
            track = LaneTrack(starts, ends, started=in_progress.get(so.id, set()))
            for p in s.track(so.sysid, since=so.started_at):
                if so.ended_at is None or p.ts <= so.ended_at:
                    track.add(p.lat, p.lon)
            missing = set(d["lanes"]) - track.flown_lanes()
            assert not missing, f"sortie {so.id}: lanes {sorted(missing)} not on the track"
        return len(sorties)
    finally:
        s.close()
