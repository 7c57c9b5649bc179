"""Shared fixtures for the whole suite."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

# Property tests draw the same examples on every run (a hash of each test seeds them), so a
# random draw can never turn a run red that the previous one passed: a failure is a change of
# code, and its blob is printed to reproduce it. No example database (derandomized runs keep
# none), no deadline (planner and CLI examples are CPU-bound and the machine is shared).
# Tests with a budget of their own (tests/fuzz/fuzzkit.budget, `@settings(...)`) keep it;
# they inherit only what they leave unset. `HYPOTHESIS_PROFILE=explore` draws new random
# examples instead, for a bug hunt on a developer's machine.
settings.register_profile(
    "groundctl",
    derandomize=True,
    database=None,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("explore", settings.get_profile("groundctl"), derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "groundctl"))

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def run_cli(tmp_path):
    """Run the real `groundctl` entry point in a subprocess, as a user would."""

    def run(*args: str, env: dict[str, str] | None = None, timeout: float = 120):
        # A clean HOME and no inherited GROUNDCTL_CONFIG, so the user's own config is not read.
        base = {k: v for k, v in os.environ.items() if k != "GROUNDCTL_CONFIG"}
        full_env = {**base, "HOME": str(tmp_path), "COLUMNS": "200", **(env or {})}
        return subprocess.run(
            [sys.executable, "-m", "groundctl", *args],
            capture_output=True,
            text=True,
            env=full_env,
            cwd=tmp_path,
            timeout=timeout,
        )

    return run
