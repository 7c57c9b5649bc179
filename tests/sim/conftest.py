"""Fixtures for the simulator tests: a fleet on free ports, a pymavlink ground station."""

from __future__ import annotations

import pytest

from groundctl.config import airframe as load_airframe


@pytest.fixture(scope="session")
def mavic3t():
    return load_airframe("mavic3t")
