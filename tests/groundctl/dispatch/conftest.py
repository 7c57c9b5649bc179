"""Fixtures of the dispatch tests: real mosquitto brokers (plain, and TLS + passwords)."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from mosquitto_broker import MOSQUITTO, Certs, Mosquitto, make_certs


def _need_mosquitto() -> None:
    if not Path(MOSQUITTO).exists():  # pragma: no cover - make test installs it
        pytest.fail("mosquitto is not installed; run `make test` (it installs it)")


@pytest.fixture
def broker(tmp_path):
    _need_mosquitto()
    b = Mosquitto(tmp_path / "broker")
    b.start()
    yield b
    b.kill()


@pytest.fixture(scope="session")
def certs(tmp_path_factory) -> Certs:
    assert shutil.which("openssl"), "the openssl CLI is needed to generate test certificates"
    return make_certs(tmp_path_factory.mktemp("certs"))


@pytest.fixture
def tls_broker(tmp_path, certs):
    _need_mosquitto()
    b = Mosquitto(
        tmp_path / "tls-broker",
        users={"station": "s3cret-station", "centre": "s3cret-centre"},
        certs=certs,
    )
    b.start()
    yield b
    b.kill()
