"""`groundctl sim` as a user runs it: a table of vehicles, MAVLink on the given ports, Ctrl-C."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from pymavlink.dialects.v20 import common as mavlink2

from thermal.framing import read_frame

ROOT = Path(__file__).resolve().parents[2]


def _start(args: list[str], tmp_path: Path) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if k != "GROUNDCTL_CONFIG"}
    env.update(HOME=str(tmp_path), COLUMNS="250")
    return subprocess.Popen(
        [sys.executable, "-m", "groundctl", "sim", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=tmp_path,
    )


def _read_until_running(proc: subprocess.Popen[str], timeout: float = 60) -> str:
    out = []
    end = time.monotonic() + timeout
    assert proc.stdout is not None
    while time.monotonic() < end:
        line = proc.stdout.readline()
        if not line:
            break
        out.append(line)
        if "Ctrl-C" in line:
            return "".join(out)
    proc.kill()
    raise AssertionError(
        "sim did not start: " + "".join(out) + (proc.stderr.read() if proc.stderr else "")
    )


def test_sim_cli_serves_vehicles_and_stops_on_ctrl_c(tmp_path):
    gcs = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    gcs.bind(("127.0.0.1", 0))
    gcs.settimeout(1.0)
    port = gcs.getsockname()[1]
    proc = _start(
        [
            "--vehicles",
            "3",
            "--autopilot",
            "px4",
            "--airframe",
            "mavic3t",
            "--home",
            "47.3977,8.5456,488",
            "--speedup",
            "5",
            "--gcs-port",
            str(port),
            "--gcs-local-base-port",
            "0",
            "--api-base-port",
            "0",
            "--api-local-base-port",
            "0",
            "--loss",
            "0",
            "--duplicate",
            "5",
            "--reorder",
            "5",
        ],
        tmp_path,
    )
    try:
        table = _read_until_running(proc)
        assert "3 simulated px4 vehicle(s)" in table
        assert len(re.findall(r"udpout://127\.0\.0\.1:\d+", table)) == 3
        parser = mavlink2.MAVLink(None)
        seen: set[int] = set()
        end = time.monotonic() + 30
        while len(seen) < 3 and time.monotonic() < end:
            try:
                data = gcs.recv(4096)
            except TimeoutError:
                continue
            for msg in parser.parse_buffer(data) or []:
                if msg.get_type() == "HEARTBEAT" and msg.autopilot == mavlink2.MAV_AUTOPILOT_PX4:
                    seen.add(msg.get_srcSystem())
        assert seen == {1, 2, 3}
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
        assert proc.returncode == 0, err
        assert "stopped after" in out
        assert "Traceback" not in err
    finally:
        if proc.poll() is None:
            proc.kill()
        gcs.close()


def test_sim_cli_rejects_bad_input(run_cli):
    r = run_cli("sim", "--home", "north-ish", "--api-base-port", "0", "--gcs-port", "0")
    assert r.returncode == 2
    assert "--home 'north-ish': expected LAT,LON" in r.stderr
    assert "Traceback" not in r.stderr
    r = run_cli("sim", "--autopilot", "betaflight", "--api-base-port", "0", "--gcs-port", "0")
    assert r.returncode == 2 and "choose px4 or ardupilot" in r.stderr
    r = run_cli("sim", "--airframe", "nope", "--api-base-port", "0", "--gcs-port", "0")
    assert r.returncode == 2 and "no airframe named 'nope'" in r.stderr


def test_sim_cli_scenario_streams_thermal_frames(tmp_path):
    scenario = ROOT / "configs" / "scenarios" / "ditch_rain_night.yaml"
    proc = _start(
        [
            "--vehicles",
            "2",
            "--scenario",
            str(scenario),
            "--api-base-port",
            "0",
            "--api-local-base-port",
            "0",
            "--gcs-port",
            "0",
            "--stream-base-port",
            "0",
            "--speedup",
            "5",
        ],
        tmp_path,
    )
    try:
        table = _read_until_running(proc)
        ports = [int(p) for p in re.findall(r"tcp://127\.0\.0\.1:(\d+)", table)]
        assert len(ports) == 2

        async def one_frame(port: int):
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            try:
                return await asyncio.wait_for(read_frame(reader), 60)
            finally:
                writer.close()

        frame = asyncio.run(one_frame(ports[1]))
        assert frame.vehicle_id == 2
        # A stabilised gimbal, nadir in the earth frame (within its residual error).
        assert frame.pose is not None and frame.pose.gimbal.frame == "earth"
        assert abs(frame.pose.gimbal.pitch_deg + 90.0) < 1.0
        assert frame.pose.alt_agl_m is not None and abs(frame.pose.alt_agl_m) < 5  # on the ground
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=30)
        assert proc.returncode == 0
    finally:
        if proc.poll() is None:
            proc.kill()
