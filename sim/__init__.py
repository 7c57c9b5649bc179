"""Simulated MAVLink autopilots, a world to search and a thermal camera that sees it.

Talks to the ground only over MAVLink and its frame stream; never imports groundctl.
"""
