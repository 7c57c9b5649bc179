"""The operation database: everything an operation produced, on disk before it goes anywhere.

One SQLite file per operation (WAL, `synchronous=FULL`, schema migrated on open via
`PRAGMA user_version`). Any number of threads and processes may use it; each method is one
short transaction. Times are seconds since the Unix epoch (UTC); positions WGS84 degrees.

    from groundctl.store import Store, TrackPoint, Ack

    store = Store.open("ops/ridge-search.sqlite", operation="ridge-search")
    op = store.operation()                                   # Operation(name=..., ...)

    # plans, sorties (a vehicle's segment or overwatch turn) and flights (take-off..landing)
    plan_id = store.add_plan("ridge v1", plan_document)     # any JSON-serialisable dict
    sortie_id = store.add_sortie(2, plan_id=plan_id, segment="A3", role="search")
    store.update_sortie(sortie_id, status="flying", started_at=t, progress=0.4,
                        detail={"battery_start_pct": 98})   # detail is merged
    store.sorties(sysid=2, status="flying")                 # -> list[Sortie]
    flight_id = store.add_flight(2, takeoff_at=t, sortie_id=sortie_id)
    store.end_flight(flight_id, landed_at=t2, detail={"distance_m": 5400})

    # vehicle events and the command journal
    store.record_event("mode", "AUTO.MISSION", sysid=2, severity="info", data={...})
    cid = store.record_command(2, "MAV_CMD_NAV_RETURN_TO_LAUNCH", {"reason": "battery"})
    store.record_command_result(cid, "MAV_RESULT_ACCEPTED")
    store.events(sysid=2, kind="mode"); store.commands(sysid=2)

    # telemetry tracks, thinned (see store.thinning.Thinning): returns whether it was kept
    store.add_track_point(TrackPoint(sysid=2, ts=t, lat=..., lon=..., alt_rel_m=...,
                                     heading_deg=..., speed_ms=..., battery_pct=...,
                                     sortie_id=sortie_id), force=False)
    store.track(2, since=t0)                                # -> list[TrackPoint]

    # hits (thermal.hit.Hit): upsert + queue for dispatch sinks in ONE transaction
    result = store.upsert_hit(hit, sinks=["mqtt"])          # UpsertResult(revision, changed)
    store.hit(hit.id); store.hits(); store.chip(hit.id); store.sightings(hit.id)

    # acknowledgements: every one is kept with who provably sent it (`identity`) and whether
    # it is `authorised`; a hit's `status` / `ack` come from authorised ones only
    store.add_ack(Ack(ack_id, hit_id, "team_dispatched", ts))   # in-process: "local", authorised
    store.acks(hit_id); store.acks(hit_id, authorised=False)    # the ones not acted upon
    h = store.hit(hit_id); h.status, h.ack.identity, h.unverified_acks

    # outbox (used by groundctl.dispatch): enqueue / due / mark_sent / mark_failed /
    # mark_superseded / backfill / requeue_sent / reannounce_unacknowledged / pending_count
    store.close()

Modules, one per capability (`Store` combines them): `base` (connection, transactions,
migrations), `operations` (operation, plans, sorties, flights), `journal` (vehicle events,
commands), `tracks`, `hits` (hits, sightings, chips), `acks`, `outbox`; `models` holds the
row types, `schema` the migrations. `groundctl.store.db` still exports `Store`/`StoreError`.

A hit update with the same content is a no-op (no new revision, nothing queued); an update
whose `last_seen` is older than the stored one (a replay after a pipeline restart) only adds
its sightings. The `groundctl.dispatch.Dispatcher` wraps `upsert_hit` and wakes the sinks
(`dispatcher.submit_hit(hit)`, or `await dispatcher.submit(hit)` to keep the fsync off the
event loop); code that produces hits should go through it rather than call `upsert_hit`.
"""

from groundctl.store.db import Store, StoreError
from groundctl.store.models import (
    ACK_STATUSES,
    Ack,
    AckStatus,
    Command,
    Flight,
    Operation,
    OutboxMessage,
    Plan,
    Sortie,
    StoredHit,
    TrackPoint,
    UpsertResult,
    VehicleEvent,
    message_id,
)
from groundctl.store.schema import SCHEMA_VERSION
from groundctl.store.thinning import Thinning

__all__ = [
    "ACK_STATUSES",
    "SCHEMA_VERSION",
    "Ack",
    "AckStatus",
    "Command",
    "Flight",
    "Operation",
    "OutboxMessage",
    "Plan",
    "Sortie",
    "Store",
    "StoreError",
    "StoredHit",
    "Thinning",
    "TrackPoint",
    "UpsertResult",
    "VehicleEvent",
    "message_id",
]
