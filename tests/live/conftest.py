"""Fixtures of the live thermal tests: a real mosquitto broker on a free loopback port."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.groundctl.dispatch.mosquitto_broker import MOSQUITTO, Mosquitto


@pytest.fixture
def live_broker(tmp_path):
    if not Path(MOSQUITTO).exists():  # pragma: no cover - make test installs it
        pytest.fail("mosquitto is not installed; run `make test` (it installs it)")
    b = Mosquitto(tmp_path / "broker")
    b.start()
    yield b
    b.kill()
