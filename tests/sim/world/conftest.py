"""Fixtures for the simulated world and camera: small scenarios built in tmp folders."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from worldfix import Cam, scenario_doc


@pytest.fixture
def write_scenario(tmp_path):
    def write(name: str = "s.yaml", **overrides: Any) -> Path:
        p = tmp_path / name
        p.write_text(yaml.safe_dump(scenario_doc(**overrides), sort_keys=False))
        return p

    return write


@pytest.fixture
def cam() -> Cam:
    return Cam()
