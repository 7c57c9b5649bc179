"""`groundctl plan --json`: the plan's summary as one JSON document, `groundctl.plan/1`, on
stdout (README, "Output for people and for scripts"). Every number comes from the plan just
written, so a script may read either and get the same values.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from missions.plan import Plan

PLAN_SCHEMA_VERSION = 1
POS_MARKS_S = (600, 1200, 1800, 3600, 7200)  # as in the printed summary


def _r(x: float | None, digits: int) -> float | None:
    return None if x is None else round(float(x), digits)


def _latlon(p: Sequence[float]) -> dict[str, float]:
    return {"lat": round(float(p[0]), 7), "lon": round(float(p[1]), 7)}


def _pos_by_time(curve: Sequence[tuple[float, float]]) -> list[dict[str, float]]:
    if not curve:
        return []
    end = curve[-1][0]
    marks = [t for t in POS_MARKS_S if t < end] + [end]
    pos = np.interp(marks, [t for t, _ in curve], [p for _, p in curve])
    return [
        {"min": round(t / 60, 1), "pos": round(float(p), 4)}
        for t, p in zip(marks, pos, strict=True)
    ]


def document(
    plan: Plan,
    endurance_s: Mapping[str, float],
    plan_file: Path,
    exports: Sequence[str],
    preview: Path | None,
    warnings: Sequence[str],
) -> dict[str, Any]:
    """The body of `groundctl.plan/1`. `endurance_s`: usable battery time (before the
    reserve) per airframe name, for each sortie's share of a battery."""
    cam, st = plan.camera, plan.stats
    segments = []
    for seg in plan.segments:
        s = seg.stats
        usable = endurance_s.get(seg.vehicle or "")
        sorties = [
            {
                "sortie": so.index + 1,
                "lanes": len(so.lane_ids),
                "length_km": _r(so.length_m / 1000, 3),
                "flight_time_min": _r(so.est_time_s / 60, 2),
                "battery_pct": _r(100 * so.est_time_s / usable, 1) if usable else None,
                "poa": _r(so.poa, 4),
                "pod": _r(so.pod, 4),
            }
            for so in seg.sorties
        ]
        segments.append(
            {
                "drone": seg.index + 1,
                "airframe": seg.vehicle,
                "launch": _latlon(seg.launch),
                "speed_ms": seg.speed_ms,
                "lanes": len(seg.lane_ids),
                "lane_km": _r(s.lane_length_m / 1000, 3),
                "path_km": _r(s.length_m / 1000, 3),
                "flight_time_min": _r(s.est_time_s / 60, 2),
                "turns": s.turns,
                "area_km2": _r(s.area_m2 / 1e6, 4),
                "sweep_deg": [_r(b, 1) for b in seg.sweep_deg],
                "pod": _r(s.pod, 4),
                "poa": _r(seg.poa, 4),
                "sorties": sorties,
            }
        )
    lkp = None
    if plan.lkp is not None:
        lkp = {
            **_latlon(plan.lkp),
            "subject": plan.subject,
            "terrain": plan.terrain,
            "poa": _r(st.poa, 4),
            "pos": _r(st.pos, 4),
            "rings": [
                {
                    "radius_km": _r(r.radius_m / 1000, 3),
                    "share": _r(r.share, 4),
                    "poa": _r(r.poa, 4),
                }
                for r in plan.rings
            ],
            "pos_by_time": _pos_by_time(st.pos_curve),
        }
    return {
        "name": plan.name,
        "pattern": plan.pattern,
        "files": {
            "plan": str(plan_file),
            "exports": list(exports),
            "preview": None if preview is None else str(preview),
        },
        "area": {
            "km2": _r(st.area_m2 / 1e6, 4),
            "searchable_km2": _r(st.searchable_m2 / 1e6, 4),
            "holes": len(plan.holes),
        },
        "camera": cam.name,
        "alt_m": cam.alt_agl_m,
        "altitude_ref": plan.altitude_ref,
        "swath_m": _r(cam.footprint_w_m, 2),
        "footprint_along_m": _r(cam.footprint_h_m, 2),
        "spacing_m": _r(cam.lane_spacing_m, 2),
        "side_overlap": cam.side_overlap,
        "gsd_cm": _r(cam.gsd_m * 100, 2),
        "px_on_person": _r(cam.px_on_person, 2),
        "drones": len(plan.segments),
        "segments": segments,
        "totals": {
            "sorties": st.sorties,
            "lane_km": _r(st.lane_length_m / 1000, 3),
            "path_km": _r(st.length_m / 1000, 3),
            "max_flight_time_min": _r(st.max_segment_time_s / 60, 2),
            "mean_flight_time_min": _r(st.mean_segment_time_s / 60, 2),
            "turns": st.turns,
            "coverage_pct": _r(st.coverage_pct, 2),
            "pod": _r(st.pod, 4),
            "planning_ms": _r(st.planning_s * 1000, 0),
        },
        "lkp": lkp,
        "warnings": list(warnings),
    }
