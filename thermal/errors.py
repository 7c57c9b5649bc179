"""Errors of the thermal pipeline."""

from __future__ import annotations


class ThermalError(Exception):
    """Base of every thermal-pipeline error a user can cause."""


class FrameError(ThermalError):
    """A frame or its sidecar cannot be read or is inconsistent."""
