"""The operation database: schema, durability across processes, hits, outbox, fleet records."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap
import threading
from dataclasses import replace

import pytest

from groundctl.store import (
    SCHEMA_VERSION,
    Ack,
    Store,
    StoreError,
    Thinning,
    TrackPoint,
)
from thermal.hit import Hit, Sighting


def make_hit(hit_id: str = "h1", sightings: int = 3, lat: float = 47.1, chip=b"\x89PNG-1") -> Hit:
    s = tuple(
        Sighting(
            frame_id=i,
            timestamp=1_700_000_000.0 + i,
            vehicle_id=2,
            lat=lat + i * 1e-6,
            lon=8.5,
            uncertainty_m=4.0,
            target_class="person",
            confidence=0.8,
            temp_c=31.5,
            size_m=(1.7, 0.5),
            pixel_xy=(320.0, 240.0),
        )
        for i in range(sightings)
    )
    return Hit(
        id=hit_id,
        target_class="person",
        confidence=0.9,
        lat=lat,
        lon=8.5,
        uncertainty_m=3.5,
        first_seen=s[0].timestamp,
        last_seen=s[-1].timestamp,
        sightings=s,
        vehicle_ids=(2,),
        chip_png=chip,
        temp_c=31.5,
    )


@pytest.fixture
def store(tmp_path):
    with Store.open(tmp_path / "op.sqlite", operation="ridge") as s:
        yield s


def test_schema_wal_and_version(tmp_path, store):
    conn = sqlite3.connect(tmp_path / "op.sqlite")
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"operations", "plans", "sorties", "flights", "vehicle_events", "commands"} <= tables
    assert {"track_points", "hits", "sightings", "chips", "outbox", "acks"} <= tables
    conn.close()
    assert store.operation().name == "ridge"


def test_reopen_is_idempotent_and_other_operation_refused(tmp_path, store):
    store.add_plan("p", {"segments": 3})
    store.close()
    again = Store.open(tmp_path / "op.sqlite", operation="ridge")
    assert [p.plan for p in again.plans()] == [{"segments": 3}]
    again.close()
    with pytest.raises(StoreError, match="operation 'ridge', not 'valley'"):
        Store.open(tmp_path / "op.sqlite", operation="valley")


def test_newer_schema_and_garbage_refused(tmp_path):
    newer = tmp_path / "newer.sqlite"
    conn = sqlite3.connect(newer)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 5}")
    conn.close()
    with pytest.raises(StoreError, match="newer than this groundctl"):
        Store.open(newer)
    garbage = tmp_path / "garbage.sqlite"
    garbage.write_bytes(b"this is not sqlite at all" * 100)
    with pytest.raises(StoreError, match="not a groundctl operation database"):
        Store.open(garbage)


def test_hit_upsert_revisions_and_outbox(store):
    first = store.upsert_hit(make_hit(sightings=3), sinks=["mqtt", "cot"])
    assert (first.revision, first.changed, first.created) == (1, True, True)
    same = store.upsert_hit(make_hit(sightings=3), sinks=["mqtt", "cot"])
    assert (same.revision, same.changed) == (1, False)
    assert [m.message_id for m in store.due("mqtt")] == ["h1:1"]

    updated = store.upsert_hit(make_hit(sightings=5, chip=b"\x89PNG-2"), sinks=["mqtt", "cot"])
    assert (updated.revision, updated.changed, updated.created) == (2, True, False)
    # the unsent revision 1 is superseded: receivers only get the latest
    assert [m.message_id for m in store.due("mqtt")] == ["h1:2"]
    assert {m.message_id: m.state for m in store.outbox("cot")} == {
        "h1:1": "superseded",
        "h1:2": "pending",
    }
    hit = store.hit("h1")
    assert hit.revision == 2 and hit.sighting_count == 5 and hit.chip_png == b"\x89PNG-2"
    assert hit.message_id == "h1:2"
    # a replay of an older state (pipeline restart) keeps sightings but changes nothing else
    stale = store.upsert_hit(make_hit(sightings=2, lat=47.2), sinks=["mqtt"])
    assert (stale.revision, stale.changed) == (2, False)
    assert store.hit("h1").lat == pytest.approx(47.1)
    assert len(store.sightings("h1")) == 5
    # sightings accumulate even if an update carries fewer of them
    newer = make_hit(sightings=6, lat=47.2)
    newer = replace(newer, sightings=newer.sightings[4:])
    assert store.upsert_hit(newer, sinks=["mqtt"]).revision == 3
    assert len(store.sightings("h1")) == 6  # frames 0..5, none twice
    assert store.hit("h1").sighting_count == 6


def test_outbox_retry_sent_and_backfill(store):
    store.upsert_hit(make_hit("a"), sinks=["mqtt"])
    store.upsert_hit(make_hit("b"), sinks=["mqtt"])
    a, b = store.due("mqtt")
    store.mark_failed(a.id, "broker down", retry_at=a.next_attempt_at + 3600)
    assert [m.subject for m in store.due("mqtt")] == ["b"]
    assert store.outbox("mqtt")[0].attempts == 1
    assert store.outbox("mqtt")[0].last_error == "broker down"
    store.mark_sent([b.id])
    assert store.pending_count("mqtt") == 1
    # a sink configured later gets every hit once
    assert store.backfill("webhook") == 2
    assert store.backfill("webhook") == 0
    assert sorted(m.message_id for m in store.due("webhook")) == ["a:1", "b:1"]


def test_reannounce_only_unacknowledged(store):
    for h in ("a", "b"):
        store.upsert_hit(make_hit(h), sinks=["mqtt"])
    store.mark_sent([m.id for m in store.due("mqtt")])
    assert store.add_ack(Ack("ack-1", "a", "received", ts=1.0))
    assert not store.add_ack(Ack("ack-1", "a", "received", ts=1.0))  # duplicate dropped
    assert store.reannounce_unacknowledged("mqtt", older_than_s=0.0) == 1
    assert [m.subject for m in store.due("mqtt")] == ["b"]
    # a periodic refresh (CoT) re-queues acknowledged hits too
    store.mark_sent([m.id for m in store.due("mqtt")])
    assert store.requeue_sent("mqtt", older_than_s=0.0, unacknowledged_only=False) == 2
    assert store.hit("a").status == "received"
    assert store.hit("b").status is None
    with pytest.raises(StoreError, match="unknown acknowledgement status 'maybe'"):
        store.add_ack(Ack("ack-2", "a", "maybe", ts=2.0))


def test_hit_committed_is_visible_to_another_process(tmp_path, store):
    """Durability first: once upsert_hit returns, a new process sees the hit and its outbox row."""
    store.upsert_hit(make_hit("x"), sinks=["mqtt"])
    code = textwrap.dedent(
        f"""
        from groundctl.store import Store
        s = Store.open({str(tmp_path / "op.sqlite")!r})
        print(s.hit("x").revision, [m.message_id for m in s.due("mqtt")])
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "1 ['x:1']"


def test_concurrent_writers_threads(store):
    def work(k: int) -> None:
        for i in range(50):
            store.record_event("statustext", f"{k}-{i}", sysid=k)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(store.events()) == 200
    assert len(store.events(sysid=3)) == 50


def test_sorties_flights_commands(store):
    plan_id = store.add_plan("v1", {"lanes": 12})
    sid = store.add_sortie(2, plan_id=plan_id, segment="A3", detail={"battery_start_pct": 98})
    s = store.update_sortie(sid, status="flying", progress=0.25, started_at=100.0, detail={"x": 1})
    assert (s.status, s.progress, s.started_at) == ("flying", 0.25, 100.0)
    assert s.detail == {"battery_start_pct": 98, "x": 1}
    assert [x.id for x in store.sorties(sysid=2, status="flying")] == [sid]
    with pytest.raises(StoreError, match=r"within 0\.\.1"):
        store.update_sortie(sid, progress=1.5)
    with pytest.raises(StoreError, match="no sortie with id 999"):
        store.update_sortie(999, status="done")
    fid = store.add_flight(2, takeoff_at=100.0, sortie_id=sid)
    assert store.end_flight(fid, landed_at=900.0, detail={"distance_m": 5400}).landed_at == 900.0
    cid = store.record_command(2, "MAV_CMD_NAV_RETURN_TO_LAUNCH", {"reason": "battery"})
    cmd = store.record_command_result(cid, "MAV_RESULT_ACCEPTED")
    assert cmd.result == "MAV_RESULT_ACCEPTED" and cmd.params == {"reason": "battery"}
    assert cmd.result_at is not None


def test_track_thinning_keeps_moves_and_heartbeat(tmp_path):
    rule = Thinning(min_distance_m=10, min_climb_m=3, min_turn_deg=20, max_interval_s=5)
    with Store.open(tmp_path / "t.sqlite", operation="t", thinning=rule) as store:
        kept = []
        # hover for 12 s at 10 Hz: one point at start, then one every 5 s
        for i in range(120):
            kept.append(store.add_track_point(TrackPoint(1, 1000 + i * 0.1, 47.0, 8.0, 500.0)))
        assert sum(kept) == 3
        # fly north at 10 m/s sampled at 10 Hz: ~one point per 10 m
        n = sum(
            store.add_track_point(TrackPoint(1, 1020 + i * 0.1, 47.0 + i * 1e-5 * 0.899, 8.0))
            for i in range(100)
        )
        assert 9 <= n <= 11
        assert store.add_track_point(TrackPoint(1, 1030.05, 47.0 + 99e-5 * 0.899, 8.0), force=True)
    # reopening picks up the last stored point, so a hover does not restart the track
    with Store.open(tmp_path / "t.sqlite", thinning=rule) as store:
        assert not store.add_track_point(TrackPoint(1, 1030.1, 47.0 + 99e-5 * 0.899, 8.0))
        assert len(store.track(1)) == 3 + n + 1
