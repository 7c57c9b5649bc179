"""Errors of the simulator."""

from __future__ import annotations


class SimError(Exception):
    """Base of every simulator error a user can cause (bad scenario, port in use...)."""
