"""Errors of the mission planner. Each message says what was wrong, where, and how to fix it."""

from __future__ import annotations


class MissionError(Exception):
    """Base of every planner error a user can cause."""


class AreaError(MissionError):
    """A search area is unusable: empty, self-intersecting, too large, swallowed by holes..."""


class PlanError(MissionError):
    """A plan cannot be made or read with the given parameters."""
