"""Shared fixtures for the whole suite."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

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
