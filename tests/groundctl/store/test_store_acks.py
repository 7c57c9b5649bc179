"""Acknowledgements keep who sent them and whether they may steer the fleet (#18 item 6)."""

from __future__ import annotations

import sqlite3

from test_store import make_hit

from groundctl.store import SCHEMA_VERSION, Ack, Store
from groundctl.store.schema import MIGRATIONS


def test_only_authorised_acks_make_the_status(tmp_path):
    with Store.open(tmp_path / "op.sqlite", operation="ridge") as store:
        store.upsert_hit(make_hit("p1"))
        # An anonymous "false alarm" from the network: kept, counted, never the status.
        forged = Ack("x1", "p1", "false_alarm", ts=2.0, by="desk-1", identity="", authorised=False)
        assert store.add_ack(forged)
        hit = store.hit("p1")
        assert hit.status is None and hit.ack is None and hit.unverified_acks == 1
        # The ground station's own ack (built in-process) is authorised and says so.
        assert store.add_ack(Ack("own", "p1", "team_dispatched", ts=3.0, by="pilot"))
        # A signed one from a desk whose key is configured.
        signed = Ack("s1", "p1", "found", ts=4.0, by="desk 1", identity="key:desk-1")
        assert store.add_ack(signed)
        # A later unauthorised ack changes nothing the fleet acts on.
        store.add_ack(Ack("x2", "p1", "false_alarm", ts=9.0, identity="", authorised=False))
        hit = store.hit("p1")
        assert hit.status == "found"
        assert (hit.ack.ack_id, hit.ack.identity, hit.ack.authorised) == ("s1", "key:desk-1", True)
        assert hit.unverified_acks == 2
        assert [h.status for h in store.hits()] == ["found"]
        kept = {a.ack_id: (a.identity, a.authorised) for a in store.acks("p1")}
        assert kept == {
            "x1": ("", False),
            "own": ("local", True),
            "s1": ("key:desk-1", True),
            "x2": ("", False),
        }
        assert [a.ack_id for a in store.acks("p1", authorised=False)] == ["x1", "x2"]
        # A forged copy under an authorised ack's id does not replace it.
        assert not store.add_ack(Ack("s1", "p1", "false_alarm", ts=10.0, authorised=False))
        assert store.hit("p1").status == "found"


def test_acks_of_an_older_database_stay_in_force(tmp_path):
    """A database written before acks had an identity: its acks were accepted then, so a
    resumed operation must not start watching a person already found."""
    path = tmp_path / "old.sqlite"
    conn = sqlite3.connect(path)
    conn.executescript(f"BEGIN; {MIGRATIONS[0]} PRAGMA user_version = 1; COMMIT;")
    conn.execute(
        "INSERT INTO hits(id, revision, content_sha, target_class, confidence, lat, lon,"
        " uncertainty_m, first_seen, last_seen, vehicle_ids, sighting_count, created_at,"
        " updated_at) VALUES ('p1', 1, 'x', 'person', 0.9, 47.1, 8.5, 3, 1, 2, '[2]', 0, 1, 1)"
    )
    conn.execute(
        "INSERT INTO acks(ack_id, hit_id, status, by, ts, received_at)"
        " VALUES ('a1', 'p1', 'found', 'desk', 5, 5)"
    )
    conn.commit()
    conn.close()
    with Store.open(path) as store:
        assert store.schema_version == SCHEMA_VERSION
        hit = store.hit("p1")
        assert hit.status == "found" and hit.ack.identity == "legacy" and hit.ack.authorised
