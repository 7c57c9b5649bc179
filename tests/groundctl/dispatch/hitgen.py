"""Deterministic hits for the dispatch tests and the benchmark: hit i, version v."""

from __future__ import annotations

import cv2
import numpy as np

from thermal.hit import Hit, Sighting


def chip(i: int) -> bytes:
    rng = np.random.default_rng(i)
    img = (rng.random((24, 24, 3)) * 255).astype(np.uint8)
    ok, buf = cv2.imencode(".png", img)
    assert ok
    return buf.tobytes()


def make_hit(i: int, version: int = 1) -> Hit:
    """Hit `hit-<i>`; a higher `version` has more sightings and a refined position."""
    t0 = 1_763_884_800.0 + i * 7.0
    lat = 46.5 + (i % 50) * 1e-3 + version * 1e-6
    lon = 7.9 + (i // 50) * 1e-3
    sightings = tuple(
        Sighting(
            frame_id=i * 100 + k,
            timestamp=t0 + k * 0.5,
            vehicle_id=1 + i % 3,
            lat=lat,
            lon=lon,
            uncertainty_m=6.0,
            target_class="person" if i % 4 else "animal",
            confidence=0.7,
            temp_c=30.0,
        )
        for k in range(2 + version)
    )
    return Hit(
        id=f"hit-{i:04d}",
        target_class="person" if i % 4 else "animal",
        confidence=min(0.99, 0.7 + 0.1 * version),
        lat=lat,
        lon=lon,
        uncertainty_m=6.0 / version,
        first_seen=sightings[0].timestamp,
        last_seen=sightings[-1].timestamp,
        sightings=sightings,
        vehicle_ids=(1 + i % 3,),
        chip_png=chip(i),
        temp_c=30.0 + version,
    )


def schedule(count: int, update_every: int = 10) -> list[tuple[int, int]]:
    """(hit index, version) in submission order: every `update_every`-th hit is updated
    (version 2) five submissions after it first appeared."""
    out: list[tuple[int, int]] = []
    for i in range(count):
        out.append((i, 1))
        j = i - 5
        if j >= 0 and j % update_every == 0:
            out.append((j, 2))
    for j in range(max(0, count - 5), count):
        if j % update_every == 0:
            out.append((j, 2))
    return out


def final_revisions(count: int, update_every: int = 10) -> dict[str, int]:
    return {f"hit-{i:04d}": 2 if i % update_every == 0 else 1 for i in range(count)}
