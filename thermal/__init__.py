"""Thermal frames, hot-spot detection, classification, georeferencing and confirmation.

A pure library: numpy and OpenCV only; it never imports groundctl or sim.
"""
