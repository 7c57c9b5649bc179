"""The picture of a plan (`groundctl plan --preview`, `groundctl replan --preview`).

Area grey, holes red, each drone's section tinted in its colour with its lanes, transits
grey, launch points as dots; with a last-known point, the probability rings (labelled with
the share of the subject's probability inside the area) and the order of flight (sortie
numbers, 1 = first); with a probability model, the cumulative probability of success
against flight time in a corner chart.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from missions.errors import PlanError
from missions.geodesy import LocalFrame
from missions.plan import Plan

# BGR, one per vehicle.
COLOURS = [
    (40, 40, 230),
    (0, 160, 255),
    (0, 200, 200),
    (60, 180, 60),
    (200, 160, 0),
    (200, 60, 60),
    (180, 60, 180),
    (110, 110, 110),
]
FONT = cv2.FONT_HERSHEY_SIMPLEX


def _text(img, s: str, at, scale=0.45, colour=(0, 0, 0)) -> None:
    x, y = int(at[0]), int(at[1])
    cv2.putText(img, s, (x, y), FONT, scale, (255, 255, 255), 3, cv2.LINE_AA)
    cv2.putText(img, s, (x, y), FONT, scale, colour, 1, cv2.LINE_AA)


def _pos_chart(img, plan: Plan, margin: int) -> None:
    curve = np.asarray(plan.stats.pos_curve, dtype=float)
    if len(curve) < 2:
        return
    w, h = 260, 140
    x0, y0 = img.shape[1] - w - margin, img.shape[0] - h - margin
    cv2.rectangle(img, (x0, y0), (x0 + w, y0 + h), (255, 255, 255), -1)
    cv2.rectangle(img, (x0, y0), (x0 + w, y0 + h), (60, 60, 60), 1)
    t_max = max(float(curve[-1, 0]), 1.0)
    px = np.column_stack(
        [x0 + 30 + curve[:, 0] / t_max * (w - 40), y0 + h - 20 - curve[:, 1] * (h - 40)]
    ).astype(np.int32)
    cv2.polylines(img, [px], False, (40, 120, 40), 2, cv2.LINE_AA)
    _text(img, "P(success)", (x0 + 6, y0 + 14), 0.4)
    _text(img, f"{curve[-1, 1]:.0%}", (px[-1, 0] - 30, px[-1, 1] - 6), 0.4)
    _text(img, f"{t_max / 60:.0f} min", (x0 + w - 60, y0 + h - 6), 0.4)
    _text(img, "0", (x0 + 24, y0 + h - 6), 0.4)


def draw_preview(plan: Plan, path: Path, width_px: int = 1200) -> None:
    pts = np.array([p for r in plan.area for p in r], dtype=float)
    frame = LocalFrame.for_area(pts[:, 0], pts[:, 1])
    all_xy = [frame.latlon_to_xy(np.asarray(r)) for r in plan.area]
    sortie_xy = [
        (seg.index, frame.latlon_to_xy(np.array([(w.lat, w.lon) for w in s.waypoints])), s)
        for seg in plan.segments
        for s in seg.sorties
    ]
    launch_xy = frame.latlon_to_xy(np.array([seg.launch for seg in plan.segments]))
    ext = np.vstack([*all_xy, *(x for _, x, _ in sortie_xy), launch_xy])
    lo, hi = ext.min(axis=0), ext.max(axis=0)
    margin = 30
    scale = (width_px - 2 * margin) / max(hi[0] - lo[0], 1.0)
    height_px = int((hi[1] - lo[1]) * scale) + 2 * margin
    if height_px > 2 * width_px:
        scale *= 2 * width_px / height_px
        height_px = int((hi[1] - lo[1]) * scale) + 2 * margin
    height_px = max(height_px, 200)

    def px(xy: np.ndarray) -> np.ndarray:
        xy = np.asarray(xy, dtype=float).reshape(-1, 2)
        p = np.column_stack(
            [(xy[:, 0] - lo[0]) * scale + margin, (hi[1] - xy[:, 1]) * scale + margin]
        )
        return np.round(p).astype(np.int32)

    img = np.full((height_px, width_px, 3), 255, np.uint8)
    for r in all_xy:
        cv2.fillPoly(img, [px(r)], (225, 225, 225))
    overlay = img.copy()
    for seg in plan.segments:
        colour = COLOURS[seg.index % len(COLOURS)]
        for ring in seg.outline:
            cv2.fillPoly(overlay, [px(frame.latlon_to_xy(np.asarray(ring)))], colour)
    img = cv2.addWeighted(overlay, 0.25, img, 0.75, 0)
    for r in plan.holes:
        cv2.fillPoly(img, [px(frame.latlon_to_xy(np.asarray(r)))], (80, 80, 200))
    for r in all_xy:
        cv2.polylines(img, [px(r)], True, (40, 40, 40), 2, cv2.LINE_AA)
    for seg in plan.segments:
        for ring in seg.outline:
            cv2.polylines(
                img,
                [px(frame.latlon_to_xy(np.asarray(ring)))],
                True,
                COLOURS[seg.index % len(COLOURS)],
                1,
                cv2.LINE_AA,
            )
    if plan.lkp is not None:
        c = px(frame.latlon_to_xy([plan.lkp]))[0]
        for ring in plan.rings[:-1]:
            r = round(ring.radius_m * scale)
            cv2.circle(img, tuple(c), r, (120, 60, 160), 1, cv2.LINE_AA)
            _text(
                img,
                f"{ring.share:.0%}: {ring.poa:.0%} in area",
                (c[0] + r * 0.71 + 4, c[1] - r * 0.71),
                0.4,
                (120, 60, 160),
            )
        cv2.drawMarker(img, tuple(c), (120, 60, 160), cv2.MARKER_TILTED_CROSS, 16, 2)
    for seg_i, xy, s in sortie_xy:
        colour = COLOURS[seg_i % len(COLOURS)]
        p = px(xy)
        for j in range(len(p) - 1):
            w0, w1 = s.waypoints[j], s.waypoints[j + 1]
            on_lane = w0.lane_id is not None and w0.lane_id == w1.lane_id
            thick = 2 if on_lane else 1
            c = colour if w0.kind != "transit" and w1.kind != "transit" else (90, 90, 90)
            cv2.line(img, tuple(p[j]), tuple(p[j + 1]), c, thick, cv2.LINE_AA)
    # Order of flight: each sortie's number at its first lane.
    for seg_i, xy, s in sortie_xy:
        k = next((j for j, w in enumerate(s.waypoints) if w.kind == "lane_start"), None)
        if k is not None and len(plan.segments[seg_i].sorties) > 1:
            _text(
                img,
                f"{seg_i + 1}.{s.index + 1}",
                px(xy[k])[0] + 4,
                0.45,
                COLOURS[seg_i % len(COLOURS)],
            )
    for i, p in enumerate(px(launch_xy)):
        cv2.circle(img, tuple(p), 7, (0, 0, 0), -1, cv2.LINE_AA)
        cv2.circle(img, tuple(p), 5, COLOURS[i % len(COLOURS)], -1, cv2.LINE_AA)
    _pos_chart(img, plan, margin)
    cam, st = plan.camera, plan.stats
    label = (
        f"{plan.name}  {len(plan.segments)} drones  {cam.alt_agl_m:.0f} m AGL  "
        f"lanes {cam.lane_spacing_m:.0f} m  coverage {st.coverage_pct:.1f}%"
    )
    if plan.subject:
        label += f"  {plan.subject}: POA {st.poa:.0%}, POS {st.pos:.0%}"
    _text(img, label, (margin, 20), 0.5)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), img):
        raise PlanError(f"{path}: cannot write the preview (is the suffix .png or .jpg?)")
