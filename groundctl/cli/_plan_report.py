"""The report `groundctl plan` and `groundctl replan` print: the plan in one paragraph, a
table of segments, coverage, and with a probability model the success against time."""

from __future__ import annotations

import numpy as np
from rich.console import Console

from groundctl.cli import output
from groundctl.cli.context import report_console
from missions.plan import Plan


def _area_geojson(area) -> dict:
    def ring(r):
        pts = [[lon, lat] for lat, lon in r]
        return [*pts, pts[0]]

    feats = [
        {
            "type": "Feature",
            "properties": {},
            "geometry": {"type": "Polygon", "coordinates": [ring(r)]},
        }
        for r in area.outer
    ]
    feats += [
        {
            "type": "Feature",
            "properties": {"role": "nofly"},
            "geometry": {"type": "Polygon", "coordinates": [ring(r)]},
        }
        for r in area.holes
    ]
    return {"type": "FeatureCollection", "features": feats}


def _mmss(s: float) -> str:
    return f"{int(s // 60)}:{int(s % 60):02d}"


def summary(
    plan: Plan, notes: list[str], written: list[str], console: Console | None = None
) -> None:
    """The report on `console` (default: stdout's)."""
    console = console or report_console()
    cam, st = plan.camera, plan.stats
    console.print(
        f"[bold]{plan.name or 'plan'}[/] ({plan.pattern}): {st.area_m2 / 1e6:.3f} km² "
        f"({st.searchable_m2 / 1e6:.3f} km² to search), {cam.name} at {cam.alt_agl_m:.1f} m AGL: "
        f"footprint {cam.footprint_w_m:.1f} x {cam.footprint_h_m:.1f} m, GSD {cam.gsd_m * 100:.1f} cm "
        f"({cam.px_on_person:.1f} px on a person), lanes {cam.lane_spacing_m:.1f} m apart; "
        f"altitude {plan.altitude_ref.replace('_', ' ')}"
    )
    table = output.Table(
        "Segments (one section per drone)",
        [
            output.Column("seg", key=True, justify="right"),
            output.Column("vehicle", key=True),
            output.Column("launch", key=True),
            output.Column("sorties", priority=2, justify="right"),
            output.Column("lanes km", priority=3, justify="right"),
            output.Column("path km", priority=2, justify="right"),
            output.Column("time", priority=1, justify="right"),
            output.Column("turns", priority=4, justify="right"),
            output.Column("area km²", priority=3, justify="right"),
            output.Column("lanes °", priority=4, justify="right"),
            output.Column("POD", priority=1, justify="right"),
            *([output.Column("POA", priority=1, justify="right")] if plan.subject else []),
        ],
    )
    for seg in plan.segments:
        s = seg.stats
        row = [
            seg.index + 1,
            seg.vehicle or "",
            f"{seg.launch[0]:.5f},{seg.launch[1]:.5f}",
            len(seg.sorties),
            f"{s.lane_length_m / 1000:.2f}",
            f"{s.length_m / 1000:.2f}",
            _mmss(s.est_time_s),
            s.turns,
            f"{s.area_m2 / 1e6:.3f}",
            "/".join(f"{b:.0f}" for b in seg.sweep_deg),
            f"{s.pod:.2f}",
        ]
        if plan.subject:
            row.append(f"{seg.poa or 0:.3f}")
        table.add_row(*row)
    total = [
        "all",
        "",
        "",
        st.sorties,
        f"{st.lane_length_m / 1000:.2f}",
        f"{st.length_m / 1000:.2f}",
        f"max {_mmss(st.max_segment_time_s)}",
        st.turns,
        f"{st.searchable_m2 / 1e6:.3f}",
        "",
        f"{st.pod:.2f}",
    ]
    if plan.subject:
        total.append(f"{st.poa or 0:.3f}")
    table.add_row(*total)
    output.show(console, table)
    console.print(
        f"coverage {st.coverage_pct:.2f}% of the ground to search; planned in {st.planning_s * 1000:.0f} ms"
    )
    if plan.subject and st.pos_curve:
        curve = st.pos_curve
        marks = [t for t in (600, 1200, 1800, 3600, 7200) if t < curve[-1][0]] + [curve[-1][0]]
        pos = np.interp(marks, [t for t, _ in curve], [p for _, p in curve])
        console.print(
            f"{plan.subject} ({plan.terrain}), ISRID rings {', '.join(f'{r.radius_m / 1000:.1f}' for r in plan.rings[:-1])} km: "
            f"POA in the area {st.poa:.1%}; probability of success by flight time: "
            + ", ".join(f"{_mmss(m)} {p:.1%}" for m, p in zip(marks, pos, strict=True))
        )
    for n in notes:
        console.print(f"[yellow]note:[/] {n}")
    console.print("wrote " + ", ".join(written))
