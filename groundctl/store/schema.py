"""The operation database schema, as an ordered list of migrations.

`PRAGMA user_version` holds the number of migrations applied. A migration is never edited
once released; a change to the schema is a new entry at the end of `MIGRATIONS`.
"""

from __future__ import annotations

MIGRATIONS: tuple[str, ...] = (
    # 1: the whole first schema.
    """
    CREATE TABLE operations (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        created_at REAL NOT NULL,
        ended_at REAL,
        notes TEXT NOT NULL DEFAULT '',
        area_geojson TEXT,
        detail TEXT NOT NULL DEFAULT '{}'
    );
    CREATE TABLE plans (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL,
        created_at REAL NOT NULL,
        plan TEXT NOT NULL
    );
    CREATE TABLE sorties (
        id INTEGER PRIMARY KEY,
        plan_id INTEGER REFERENCES plans(id),
        sysid INTEGER NOT NULL,
        segment TEXT,
        role TEXT NOT NULL DEFAULT 'search',
        status TEXT NOT NULL DEFAULT 'planned',
        created_at REAL NOT NULL,
        started_at REAL,
        ended_at REAL,
        progress REAL NOT NULL DEFAULT 0,
        detail TEXT NOT NULL DEFAULT '{}'
    );
    CREATE INDEX sorties_sysid ON sorties(sysid, id);
    CREATE TABLE flights (
        id INTEGER PRIMARY KEY,
        sysid INTEGER NOT NULL,
        sortie_id INTEGER REFERENCES sorties(id),
        takeoff_at REAL NOT NULL,
        landed_at REAL,
        detail TEXT NOT NULL DEFAULT '{}'
    );
    CREATE TABLE vehicle_events (
        id INTEGER PRIMARY KEY,
        ts REAL NOT NULL,
        sysid INTEGER,
        sortie_id INTEGER,
        kind TEXT NOT NULL,
        severity TEXT NOT NULL DEFAULT 'info',
        message TEXT NOT NULL DEFAULT '',
        data TEXT NOT NULL DEFAULT '{}'
    );
    CREATE INDEX vehicle_events_sysid ON vehicle_events(sysid, ts);
    CREATE TABLE commands (
        id INTEGER PRIMARY KEY,
        ts REAL NOT NULL,
        sysid INTEGER NOT NULL,
        command TEXT NOT NULL,
        params TEXT NOT NULL DEFAULT '{}',
        result TEXT,
        result_at REAL,
        detail TEXT NOT NULL DEFAULT '{}'
    );
    CREATE INDEX commands_sysid ON commands(sysid, ts);
    CREATE TABLE track_points (
        id INTEGER PRIMARY KEY,
        sysid INTEGER NOT NULL,
        sortie_id INTEGER,
        ts REAL NOT NULL,
        lat REAL NOT NULL,
        lon REAL NOT NULL,
        alt_amsl_m REAL,
        alt_rel_m REAL,
        heading_deg REAL,
        speed_ms REAL,
        battery_pct REAL
    );
    CREATE INDEX track_points_sysid ON track_points(sysid, ts);
    CREATE TABLE hits (
        id TEXT PRIMARY KEY,
        revision INTEGER NOT NULL,
        content_sha TEXT NOT NULL,
        target_class TEXT NOT NULL,
        confidence REAL NOT NULL,
        lat REAL NOT NULL,
        lon REAL NOT NULL,
        uncertainty_m REAL NOT NULL,
        first_seen REAL NOT NULL,
        last_seen REAL NOT NULL,
        vehicle_ids TEXT NOT NULL,
        temp_c REAL,
        sighting_count INTEGER NOT NULL,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL
    );
    CREATE TABLE sightings (
        id INTEGER PRIMARY KEY,
        hit_id TEXT NOT NULL REFERENCES hits(id),
        frame_id INTEGER NOT NULL,
        ts REAL NOT NULL,
        vehicle_id INTEGER,
        lat REAL NOT NULL,
        lon REAL NOT NULL,
        uncertainty_m REAL NOT NULL,
        target_class TEXT NOT NULL,
        confidence REAL NOT NULL,
        temp_c REAL,
        size_m TEXT,
        pixel_xy TEXT
    );
    CREATE UNIQUE INDEX sightings_unique
        ON sightings(hit_id, frame_id, COALESCE(vehicle_id, -1), ts);
    CREATE TABLE chips (
        id INTEGER PRIMARY KEY,
        hit_id TEXT NOT NULL REFERENCES hits(id),
        revision INTEGER NOT NULL,
        sha256 TEXT NOT NULL,
        png BLOB NOT NULL,
        UNIQUE (hit_id, sha256)
    );
    CREATE TABLE outbox (
        id INTEGER PRIMARY KEY,
        sink TEXT NOT NULL,
        kind TEXT NOT NULL,
        subject TEXT NOT NULL,
        revision INTEGER NOT NULL DEFAULT 0,
        message_id TEXT NOT NULL,
        payload TEXT,
        state TEXT NOT NULL DEFAULT 'pending',
        created_at REAL NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at REAL NOT NULL,
        last_error TEXT,
        sent_at REAL,
        UNIQUE (sink, message_id)
    );
    CREATE INDEX outbox_due ON outbox(sink, state, next_attempt_at);
    CREATE TABLE acks (
        ack_id TEXT PRIMARY KEY,
        hit_id TEXT NOT NULL,
        message_id TEXT,
        status TEXT NOT NULL,
        by TEXT NOT NULL DEFAULT '',
        note TEXT NOT NULL DEFAULT '',
        ts REAL NOT NULL,
        received_at REAL NOT NULL,
        source TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX acks_hit ON acks(hit_id, ts);
    """,
    # 2: who an acknowledgement provably came from, and whether it may steer the fleet.
    # Acks stored before were accepted under the old rules: they stay in force ("legacy").
    """
    ALTER TABLE acks ADD COLUMN identity TEXT NOT NULL DEFAULT 'legacy';
    ALTER TABLE acks ADD COLUMN authorised INTEGER NOT NULL DEFAULT 1;
    CREATE INDEX acks_hit_authorised ON acks(hit_id, authorised, ts);
    """,
)

SCHEMA_VERSION = len(MIGRATIONS)
