"""Fixtures of the web map tests: the real `groundctl serve` in a subprocess on a free loopback
port, Debian's chromium driven by Playwright, a real mosquitto broker."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.groundctl.dispatch.mosquitto_broker import MOSQUITTO, Mosquitto

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "tests" / "artifacts"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@dataclass
class Server:
    url: str
    proc: subprocess.Popen[str]
    db: Path
    token: str | None
    output: list[str]

    @property
    def base(self) -> str:
        return self.url.split("?")[0]

    def log(self) -> str:
        return "".join(self.output)


def start_server(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> Server:
    db = tmp_path / "op.sqlite"
    if "--db" in args:
        db = Path(args[args.index("--db") + 1])
    else:
        args = ("--db", str(db), *args)
    if "--bind" not in args:
        args = (*args, "--bind", "127.0.0.1:0")
    base_env = {
        k: v for k, v in os.environ.items() if k not in ("GROUNDCTL_CONFIG", "GROUNDCTL_WEB_TOKEN")
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "groundctl", "serve", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=tmp_path,
        env={**base_env, "HOME": str(tmp_path), **(env or {})},
    )
    output: list[str] = []
    deadline = time.monotonic() + 60
    assert proc.stdout is not None
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        output.append(line)
        m = re.search(r"groundctl map: (\S+)", line)
        if m:
            url = m.group(1)
            token = re.search(r"token=(\S+)", url)
            # Keep draining the output so the server never blocks on a full pipe.
            import threading

            threading.Thread(
                target=lambda: output.extend(iter(proc.stdout.readline, "")), daemon=True
            ).start()
            return Server(url, proc, db, token.group(1) if token else None, output)
    proc.kill()
    raise AssertionError("groundctl serve did not start:\n" + "".join(output))


def stop_server(server: Server) -> None:
    if server.proc.poll() is None:
        server.proc.send_signal(signal.SIGINT)
        try:
            server.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.proc.kill()
            server.proc.wait()


@pytest.fixture
def serve(tmp_path) -> Iterator:
    started: list[Server] = []

    def start(*args: str, env: dict[str, str] | None = None) -> Server:
        s = start_server(tmp_path, *args, env=env)
        started.append(s)
        return s

    yield start
    for s in started:
        stop_server(s)


@pytest.fixture
def broker(tmp_path):
    if not Path(MOSQUITTO).exists():  # pragma: no cover - make test installs it
        pytest.fail("mosquitto is not installed; run `make test` (it installs it)")
    b = Mosquitto(tmp_path / "broker")
    b.start()
    yield b
    b.kill()


@pytest.fixture(scope="session")
def chromium():
    if not Path(CHROMIUM).exists():  # pragma: no cover - make test installs it
        pytest.fail("chromium is not installed; run `make test` (it installs Debian's chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        with contextlib.suppress(Exception):
            browser.close()


@pytest.fixture
def artifacts(request) -> Path:
    d = ARTIFACTS / request.node.name
    d.mkdir(parents=True, exist_ok=True)
    return d
