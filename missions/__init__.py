"""Search areas, camera footprints, S-pattern coverage, segmentation and plans.

A pure library: numpy, shapely 2 and pyproj only; it never imports groundctl or sim.
"""
