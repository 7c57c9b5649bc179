"""A plain pymavlink script written for PX4 SITL (`fly_px4_sitl.py`, which knows nothing of
groundctl) flies `groundctl sim` unchanged: the simulator sends from its own port to the one
the script listens on, as PX4 SITL sends from 14580+i to 14540+i."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

SCRIPT = Path(__file__).with_name("fly_px4_sitl.py")


def _free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_px4_sitl_script_flies_groundctl_sim(tmp_path):
    port = _free_udp_port()
    env = {k: v for k, v in os.environ.items() if k != "GROUNDCTL_CONFIG"}
    env.update(HOME=str(tmp_path), COLUMNS="200")
    sim = subprocess.Popen(
        [
            sys.executable, "-m", "groundctl", "sim", "--vehicles", "1", "--speedup", "10",
            "--api-base-port", str(port), "--api-local-base-port", "0", "--gcs-port", "0",
        ],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path,
    )  # fmt: skip
    try:
        time.sleep(0.5)
        r = subprocess.run(
            [sys.executable, str(SCRIPT), "--url", f"udpin:127.0.0.1:{port}", "--timeout", "120"],
            capture_output=True,
            text=True,
            timeout=170,
        )
        assert r.returncode == 0, r.stdout + r.stderr
        assert "landed and disarmed: mission flown" in r.stdout
        assert "reached item 4" in r.stdout  # the last waypoint
    finally:
        sim.terminate()
        sim.communicate(timeout=30)


@pytest.mark.sitl
def test_px4_sitl_script_flies_the_sitl(urls, record):
    """The same script against the real SITL (its first vehicle), as it was written for."""
    from tests.sitl.conftest import pymavlink_url

    record["checked"] = "plain pymavlink script: upload, arm, mission, landing on vehicle 1"
    r = subprocess.run(
        [sys.executable, str(SCRIPT), "--url", pymavlink_url(urls[0]), "--timeout", "400"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert r.returncode == 0, r.stdout + r.stderr
