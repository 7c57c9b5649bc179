"""The steps of `groundctl fly` around the orchestrator: parse, connect, pre-flight table,
and the answer to Ctrl-C or SIGTERM."""

from __future__ import annotations

import asyncio
import contextlib
import re
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console

from groundctl.errors import ConfigError, GroundctlError

if TYPE_CHECKING:
    from groundctl.dispatch import DispatchConfig
    from groundctl.fleet.config import FleetConfig
    from groundctl.fleet.live_ops import LiveOps
    from groundctl.fleet.orchestrator import Orchestrator
    from groundctl.link import Vehicle
    from missions.plan import Plan


def _flyable_plan(plan_file: Path) -> Plan:
    """The plan, refused in one line when it holds nothing to fly (a hand-edited or foreign
    file with no segments would otherwise fail deep inside the launch)."""
    from missions.plan import Plan

    plan = Plan.load(plan_file)
    if not plan.segments:
        raise ConfigError(
            str(plan_file),
            "segments",
            "the plan has no segments to fly; make one with groundctl plan",
        )
    return plan


def _operation_name(given: str | None, plan: Plan, plan_file: Path, fallback: str) -> str:
    """The operation's name: --operation as given (checked by the fleet config), otherwise
    the plan's name made safe for a file name, so that a plan named after "1 km² rectangle"
    can be flown without inventing a name."""
    if given:
        return given
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "-", plan.name or plan_file.stem).strip("-.")[:80]
    return safe or fallback


def _parse_latlon(text: str) -> tuple[float, float]:
    try:
        lat, lon = (float(x) for x in text.split(","))
    except ValueError:
        raise ConfigError(
            "--overwatch", None, f"expected LAT,LON in degrees (got {text!r})"
        ) from None
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise ConfigError("--overwatch", None, f"{text!r} is not a WGS84 position")
    return lat, lon


def _dispatch_config(
    fleet: FleetConfig,
    fleet_file: Path | None,
    dispatch_file: Path | None,
    hits_geojson: Path | None,
) -> DispatchConfig | None:
    """--dispatch-config FILE, else the fleet file's dispatch: section; --hits-geojson adds
    a GeoJSON file sink. None when nothing is to be sent anywhere."""
    from groundctl.dispatch import DispatchConfig, dispatch_config, load_dispatch_config

    if dispatch_file is not None:
        cfg = load_dispatch_config(dispatch_file)
    elif fleet.dispatch is not None:
        cfg = dispatch_config(fleet.dispatch, str(fleet_file or "fleet"))
    else:
        cfg = DispatchConfig()
    if hits_geojson is not None:
        cfg = cfg.model_copy(update={"geojson_file": hits_geojson})
    if not (cfg.mqtt or cfg.cot or cfg.geojson_file or cfg.webhooks):
        return None
    return cfg


async def _connect(fleet: FleetConfig, timeout_s: float) -> dict[str, Vehicle]:
    from groundctl.link import open_vehicle

    async def one(v):
        try:
            return v.name, await open_vehicle(
                v.connection,
                sysid=v.sysid,
                backend=v.backend,
                gcs_sysid=v.gcs_sysid or fleet.gcs_sysid,
                signing_key_file=str(v.signing_key_file) if v.signing_key_file else None,
                timeout_s=timeout_s,
            )
        except GroundctlError as exc:
            raise type(exc)(f"{v.name} ({v.connection}): {exc}") from None

    pairs = await asyncio.gather(*(one(v) for v in fleet.vehicles))
    return dict(pairs)


async def _preflight_table(
    orch: Orchestrator, console: Console, reasons: dict[str, str] | None = None
) -> dict[str, bool]:
    """Upload each drone's geofence, then evaluate and print the go/no-go table. `reasons`
    gets, for each NO-GO drone, the checks it failed in one line."""
    from groundctl.errors import LinkError
    from groundctl.fleet import preflight
    from groundctl.link import MissionType

    async def settled(v: Vehicle) -> None:
        # A drone just connected may still be getting its fix and home: give it a moment.
        with contextlib.suppress(LinkError):
            await v.telemetry.wait_for(
                lambda s: (
                    s.gps is not None
                    and s.gps.fix_type >= 3
                    and s.home is not None
                    and s.battery is not None
                ),
                timeout_s=20.0,
                what="GPS fix and home",
            )

    await asyncio.gather(*(settled(v) for v in orch.vehicles.values()))
    distances, reaches = _plan_within_reach(orch)
    results = {}
    for name, v in orch.vehicles.items():
        fence_ok = True
        try:
            await orch._upload(name, "pre-flight", orch.fence, MissionType.FENCE)
        except GroundctlError:
            fence_ok = False
        st = v.telemetry.state()
        first = orch.queues[name][0] if orch.queues[name] else None
        need = orch.flight_need_s(name, first) if first else 0.0
        results[name] = preflight.evaluate(
            preflight.PreflightState(
                name=name,
                link_ok=st.link_ok,
                heartbeat_age_s=None
                if st.last_heartbeat_age_s == float("inf")
                else st.last_heartbeat_age_s,
                gps_fix_type=st.gps.fix_type if st.gps else 0,
                satellites=st.gps.satellites if st.gps else 0,
                home_set=st.home is not None,
                battery_pct=st.battery.remaining_pct if st.battery else None,
                battery_needed_pct=min(100.0, orch.sortie_need_pct(name, need)),
                fence_uploaded=fence_ok,
                plan_distance_m=distances[name],
                reach_m=reaches[name],
            )
        )
    if reasons is not None:
        for name, checks in results.items():
            failed = [f"{c.name}: {c.detail}" for c in checks if not c.ok]
            if failed:
                reasons[name] = "pre-flight NO-GO: " + "; ".join(failed)
    if console.is_terminal:
        console.print(preflight.go_no_go_table(results))
    else:
        from groundctl.cli.fly_summary import preflight_table, show

        show(console, preflight_table(results))
    return {n: preflight.is_go(c) for n, c in results.items()}


def _plan_within_reach(orch: Orchestrator) -> tuple[dict[str, float | None], dict[str, float]]:
    """Each drone's distance from its home to the plan's nearest waypoint, and its reach.

    Refuses (before anything is uploaded or armed) a plan out of reach of every drone that
    reports a home: a plan kilometres away is a wrong area (swapped latitude/longitude, another
    site's file), never something to take off for."""
    from groundctl.fleet import preflight

    lats, lons = preflight.plan_points(orch.plan)
    distances: dict[str, float | None] = {}
    reaches: dict[str, float] = {}
    for name, v in orch.vehicles.items():
        home = v.telemetry.state().home
        reaches[name] = preflight.reach_m(orch.airframe(name))
        distances[name] = (
            None if home is None else preflight.nearest_m((home.lat, home.lon), lats, lons)
        )
    known = {n: d for n, d in distances.items() if d is not None}
    if known and all(d > reaches[n] for n, d in known.items()):
        name = min(known, key=lambda n: known[n])
        home = orch.vehicles[name].telemetry.state().home
        assert home is not None
        raise GroundctlError(
            f"plan {orch.plan.name!r} is {preflight.fmt_km(known[name])} from the nearest drone "
            f"home ({name} at {home.lat:.5f}, {home.lon:.5f}), beyond its reach of "
            f"{preflight.fmt_km(reaches[name])}; nothing was armed. Is it the right area "
            "(latitude and longitude not swapped)?"
        )
    return distances, reaches


async def _interrupted(
    orch: Orchestrator,
    run: asyncio.Task[None],
    on_exit: str,
    signame: str,
    console: Console,
    live_ops: LiveOps | None,
) -> tuple[int, str]:
    """Ctrl-C or SIGTERM: stop flying the plan, apply --on-exit, journal it. SIGTERM (a
    service manager, a closed session) never asks: `ask` means rtl there. Returns the exit
    code (130 for SIGINT, 143 for SIGTERM) and what the drones were told (rtl or leave)."""
    orch.stop()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await run
    choice = on_exit
    if choice == "ask":
        choice = (
            "rtl"
            if signame == "SIGTERM"
            or typer.confirm(
                "Return all drones to launch? (no: leave them flying)", default=True, err=True
            )
            else "leave"
        )
    orch.journal.event("interrupted", f"{signame}: {choice}", severity="warning")
    if choice == "rtl":
        await orch.return_all()
        console.print("[yellow]all drones ordered to return to launch[/]")
    else:
        console.print(
            "[yellow]drones left flying their missions; `groundctl fly` again reattaches[/]"
        )
    if live_ops is not None:
        await live_ops.finish(console)
    return (143 if signame == "SIGTERM" else 130), choice
