"""The JSON API: plans and exports, the flight, hits and answers, ground teams, the map."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from fastapi import APIRouter, Query, Request, Response

from groundctl import __version__, config
from groundctl.fleet.journal import plan_digest
from groundctl.web import planning
from groundctl.web.errors import WebError, bad, conflict, not_found, user_error
from groundctl.web.ops import Ops
from groundctl.web.schemas import AckIn, FlightIn, PlanIn, TeamPositionIn, team_name
from groundctl.web.teams import guidance, record_position
from missions.errors import MissionError
from missions.plan import Plan

MAX_IMPORT_BYTES = 20 * 1024 * 1024

router = APIRouter(prefix="/api")


def ops(request: Request) -> Ops:
    return request.app.state.ops


def _plan(o: Ops, plan_id: int) -> Plan:
    doc = o.reader.plan_doc(plan_id)
    if doc is None:
        raise not_found("plan_id", f"plan_id: no plan {plan_id} in this operation")
    return Plan.model_validate(doc)


# ---------------------------------------------------------------------- overview
@router.get("/config")
async def get_config(request: Request) -> dict[str, Any]:
    o = ops(request)
    uf = o.opts.user_file
    shade = o.hillshade() if o.dem is not None else None
    return {
        "version": __version__,
        "operation": o.operation_name(),
        "flying": o.opts.flying,
        "sim": o.opts.sim,
        "scenario": str(o.opts.scenario) if o.opts.scenario else None,
        "cameras": sorted(config.catalog("cameras", uf)),
        "airframes": sorted(config.catalog("airframes", uf)),
        "background": o.background.doc(),
        "hillshade": {"url": "api/hillshade.png", "bounds": shade[1]} if shade else None,
        "dispatch_mqtt": o.acker.mqtt,
        "token_required": o.opts.token is not None,
    }


@router.get("/state")
async def get_state(request: Request) -> dict[str, Any]:
    return await asyncio.to_thread(ops(request).watcher.snapshot)


# ---------------------------------------------------------------------- areas and plans
@router.post("/areas/import")
async def import_area(request: Request, filename: str = Query(min_length=1, max_length=200)):
    size = int(request.headers.get("content-length") or 0)
    if size > MAX_IMPORT_BYTES:
        raise WebError(413, "body", f"body: {size} bytes; an area file may have at most 20 MB")
    data = await request.body()
    if not data:
        raise bad("body", "empty; send the file's bytes as the request body")
    try:
        area = planning.read_area_bytes(data, filename)
    except MissionError as exc:
        raise user_error(exc, "body") from None
    ring = lambda r: [[lon, lat] for lat, lon in r] + [[r[0][1], r[0][0]]]  # noqa: E731
    feats = [
        {"type": "Feature", "properties": {"role": "area"},
         "geometry": {"type": "Polygon", "coordinates": [ring(r)]}}
        for r in area.outer
    ] + [
        {"type": "Feature", "properties": {"role": "nofly"},
         "geometry": {"type": "Polygon", "coordinates": [ring(r)]}}
        for r in area.holes
    ]  # fmt: skip
    return {"type": "FeatureCollection", "name": area.name, "features": feats}


@router.get("/plans")
async def list_plans(request: Request) -> list[dict[str, Any]]:
    return ops(request).reader.plans()


@router.post("/plans", status_code=201)
async def create_plan(request: Request, body: PlanIn) -> dict[str, Any]:
    o = ops(request)
    try:
        area = planning.area_from_geojson(body.area)
    except MissionError as exc:
        raise user_error(exc, "area") from None
    params = planning.PlanParams(
        camera=body.camera,
        alt_m=body.alt_m,
        min_px_on_person=body.min_px_on_person,
        overlap_pct=body.overlap_pct,
        drones=body.drones,
        airframes=body.airframes,
        launches=body.launches,
        sweep_deg=body.sweep_deg,
        speed_ms=body.speed_ms,
        turn_margin_m=body.turn_margin_m,
        hole_margin_m=body.hole_margin_m,
        name=body.name or "web plan",
    )
    for field, names, section in (
        ("camera", [body.camera], "cameras"),
        ("airframes", body.airframes, "airframes"),
    ):
        known = config.catalog(section, o.opts.user_file)
        for n in names:
            if n not in known:
                raise bad(field, f"unknown {section[:-1]} {n!r}; known: {', '.join(sorted(known))}")
    try:
        plan = await asyncio.to_thread(planning.make, area, params, o.opts.user_file, o.dem)
    except MissionError as exc:
        raise user_error(exc, "area") from None
    doc = json.loads(plan.to_json(None))
    o.ensure_operation()
    # The name the flight journal looks plans up by: flying this plan reuses this row.
    plan_id = o.store.add_plan(f"{plan.name or 'plan'}#{plan_digest(plan)}", doc)
    lkp = list(body.lkp) if body.lkp is not None else None
    o.store.update_operation(area_geojson=body.area, detail={"lkp": lkp})
    geo = o.watcher.geometry(plan_id)
    assert geo is not None
    return {**geo.map_doc(), "lkp": lkp}


@router.get("/plans/{plan_id}")
async def get_plan(request: Request, plan_id: int) -> dict[str, Any]:
    o = ops(request)
    _plan(o, plan_id)
    geo = o.watcher.geometry(plan_id)
    assert geo is not None
    return geo.map_doc()


@router.get("/plans/{plan_id}/export")
async def export_plan(
    request: Request, plan_id: int, format: str = Query(), firmware: str = Query("px4")
) -> Response:
    if format not in planning.EXPORTS:
        raise bad("format", f"{format!r}: choose from {', '.join(planning.EXPORTS)}")
    if firmware not in ("px4", "ardupilot"):
        raise bad("firmware", f"{firmware!r}: px4 or ardupilot")
    plan = _plan(ops(request), plan_id)
    stem = "".join(c if c.isalnum() or c in "-_" else "-" for c in (plan.name or "plan"))
    data, media, name = planning.export(plan, format, f"{stem}-{plan_id}", firmware)
    return Response(
        data, media_type=media, headers={"content-disposition": f'attachment; filename="{name}"'}
    )


# ---------------------------------------------------------------------- flight
@router.get("/flight")
async def get_flight(request: Request) -> dict[str, Any]:
    o = ops(request)
    return {"flying": o.opts.flying, "flight": o.flight.summary() if o.flight else None}


@router.post("/flight", status_code=201)
async def start_flight(request: Request, body: FlightIn) -> dict[str, Any]:
    o = ops(request)
    if o.opts.flying == "none":
        raise conflict(
            None,
            "this server flies nothing: start it with --sim N (simulated drones) or "
            "--fleet FILE (real ones), or fly with `groundctl fly` beside it",
        )
    if o.flight is not None and o.flight.running:
        raise conflict("plan_id", f"a flight of plan {o.flight.plan_id} is running; stop it first")
    plan = _plan(o, body.plan_id)
    return o.start_flight(plan, body.plan_id, body.on_exit).summary()


@router.delete("/flight")
async def stop_flight(request: Request, on_exit: str = Query("rtl")) -> dict[str, Any]:
    o = ops(request)
    if on_exit not in ("rtl", "leave"):
        raise bad("on_exit", f"{on_exit!r}: rtl (bring them home) or leave (keep flying)")
    if o.flight is None or not o.flight.running:
        raise conflict(None, "no flight is running")
    await o.flight.stop(on_exit)
    return o.flight.summary()


# ---------------------------------------------------------------------- hits
def _hit(o: Ops, hit_id: str) -> dict[str, Any]:
    if len(hit_id) > 100:
        raise bad("hit_id", "longer than 100 characters")
    rows = o.reader.hits(ids=[hit_id])
    if not rows:
        raise not_found("hit_id", f"hit_id: no hit {hit_id!r} in this operation")
    return rows[0]


@router.get("/hits")
async def list_hits(request: Request) -> list[dict[str, Any]]:
    return await asyncio.to_thread(ops(request).reader.hits)


@router.get("/hits/{hit_id}")
async def get_hit(request: Request, hit_id: str) -> dict[str, Any]:
    o = ops(request)
    h = _hit(o, hit_id)
    return {
        **h,
        "sightings": o.store.sightings(hit_id),
        "acks": [a.__dict__ for a in o.store.acks(hit_id)],
    }


@router.get("/hits/{hit_id}/chip.png")
async def get_chip(request: Request, hit_id: str) -> Response:
    o = ops(request)
    _hit(o, hit_id)
    png = o.store.chip(hit_id)
    if png is None:
        raise not_found("hit_id", f"hit_id: hit {hit_id!r} has no thermal chip")
    return Response(png, media_type="image/png", headers={"cache-control": "max-age=60"})


@router.post("/hits/{hit_id}/ack", status_code=201)
async def ack_hit(request: Request, hit_id: str, body: AckIn) -> dict[str, Any]:
    o = ops(request)
    h = _hit(o, hit_id)
    ack = await o.acker.ack(
        hit_id, body.status, body.by, body.note, f"{hit_id}:{h['revision']}", o.operation_name()
    )
    return {
        "ack": ack.__dict__,
        "dispatch": "queued for MQTT" if o.acker.mqtt else "stored (no MQTT broker configured)",
    }


# ---------------------------------------------------------------------- ground teams
@router.post("/teams/{team}/position", status_code=201)
async def team_position(request: Request, team: str, body: TeamPositionIn) -> dict[str, Any]:
    o = ops(request)
    try:
        team = team_name(team)
    except ValueError as exc:
        raise bad("team", str(exc)) from None
    o.ensure_operation()
    ts = body.ts if body.ts is not None and abs(body.ts - time.time()) < 3600 else None
    await asyncio.to_thread(
        record_position, o.store, team, body.lat, body.lon,
        accuracy_m=body.accuracy_m, source="phone", ts=ts,
    )  # fmt: skip
    mine = [t for t in guidance(o.reader.teams(), o.reader.hits()) if t["team"] == team]
    return mine[0] if mine else {"team": team}


@router.get("/teams")
async def list_teams(request: Request) -> list[dict[str, Any]]:
    o = ops(request)
    return guidance(o.reader.teams(), o.reader.hits())


# ---------------------------------------------------------------------- map
@router.get("/hillshade.png")
async def get_hillshade(request: Request) -> Response:
    shade = ops(request).hillshade()
    if shade is None:
        raise not_found(None, "no DEM: start the server with --dem FILE for a hillshade")
    return Response(shade[0], media_type="image/png")
