/// The store's schema, as named migrations that are never edited once shipped.
///
/// The schema itself enforces what the log promises: events are only ever inserted (triggers abort
/// every UPDATE and DELETE), every column is NOT NULL where it must be, and CHECKs pin shapes.
public enum Schema {
    /// The schema version a store of this build has (`PRAGMA user_version`) and its newest migration.
    public static var version: Int { migrations.count }
    public static var newestMigration: String { migrations.last?.name ?? "" }

    /// `PRAGMA application_id`: "TGLG", marks a file as a TrialGate store.
    static let applicationID: Int32 = 0x5447_4C47

    static let migrations: [(name: String, sql: String)] = [
        ("0001_events", """
        CREATE TABLE events (
            seq        INTEGER PRIMARY KEY CHECK (seq >= 1),
            ts         TEXT    NOT NULL CHECK (length(ts) = 24 AND substr(ts, 24, 1) = 'Z'),
            actor      TEXT    NOT NULL CHECK (length(actor) > 0),
            type       TEXT    NOT NULL CHECK (length(type) > 0),
            candidate  TEXT,
            prev_hash  TEXT    NOT NULL CHECK (length(prev_hash) = 64),
            hash       TEXT    NOT NULL UNIQUE CHECK (length(hash) = 64),
            body       TEXT    NOT NULL CHECK (json_valid(body))
        ) STRICT;
        CREATE INDEX events_by_candidate ON events (candidate, seq) WHERE candidate IS NOT NULL;
        CREATE INDEX events_by_type ON events (type, seq);
        CREATE TRIGGER events_no_update BEFORE UPDATE ON events
            BEGIN SELECT RAISE(ABORT, 'events are append-only: UPDATE is not allowed'); END;
        CREATE TRIGGER events_no_delete BEFORE DELETE ON events
            BEGIN SELECT RAISE(ABORT, 'events are append-only: DELETE is not allowed'); END;
        CREATE TRIGGER events_in_order BEFORE INSERT ON events
            WHEN NEW.seq <> coalesce((SELECT max(seq) FROM events), 0) + 1
            BEGIN SELECT RAISE(ABORT, 'events are numbered without gaps'); END;
        CREATE TRIGGER events_chained BEFORE INSERT ON events
            WHEN NEW.prev_hash <> coalesce((SELECT hash FROM events WHERE seq = NEW.seq - 1), '\(String(repeating: "0", count: 64))')
            BEGIN SELECT RAISE(ABORT, 'prev_hash must be the hash of the previous event'); END;
        CREATE TABLE migrations (name TEXT PRIMARY KEY NOT NULL, applied_at TEXT NOT NULL) STRICT;
        """),
        // The RFC 6962 tree over the events: the hash of every perfect subtree of 16 leaves or more, stored when
        // it is completed (smaller ones are recomputed from the event bodies), and the signed checkpoints. Both
        // are written in the transaction of the events they cover and, like events, never updated or deleted.
        ("0002_merkle", """
        CREATE TABLE merkle_nodes (
            level INTEGER NOT NULL CHECK (level BETWEEN 4 AND 62),
            idx   INTEGER NOT NULL CHECK (idx >= 0),
            hash  BLOB    NOT NULL CHECK (length(hash) = 32),
            PRIMARY KEY (level, idx)
        ) STRICT, WITHOUT ROWID;
        CREATE TRIGGER merkle_nodes_no_update BEFORE UPDATE ON merkle_nodes
            BEGIN SELECT RAISE(ABORT, 'the Merkle tree is append-only: UPDATE is not allowed'); END;
        CREATE TRIGGER merkle_nodes_no_delete BEFORE DELETE ON merkle_nodes
            BEGIN SELECT RAISE(ABORT, 'the Merkle tree is append-only: DELETE is not allowed'); END;
        CREATE TABLE checkpoints (
            size      INTEGER PRIMARY KEY CHECK (size >= 1),
            issued_at TEXT    NOT NULL CHECK (length(issued_at) = 24 AND substr(issued_at, 24, 1) = 'Z'),
            note      TEXT    NOT NULL CHECK (length(note) > 0)
        ) STRICT;
        CREATE TRIGGER checkpoints_no_update BEFORE UPDATE ON checkpoints
            BEGIN SELECT RAISE(ABORT, 'checkpoints are append-only: UPDATE is not allowed'); END;
        CREATE TRIGGER checkpoints_no_delete BEFORE DELETE ON checkpoints
            BEGIN SELECT RAISE(ABORT, 'checkpoints are append-only: DELETE is not allowed'); END;
        CREATE TRIGGER checkpoints_cover_events BEFORE INSERT ON checkpoints
            WHEN NEW.size > coalesce((SELECT max(seq) FROM events), 0)
            BEGIN SELECT RAISE(ABORT, 'a checkpoint cannot cover events that do not exist'); END;
        """),
        // Two changes to the event table's indexes, both for the write rate of a busy server, which is bound by the
        // B-tree pages each commit writes to the WAL:
        // - `hash` loses its UNIQUE index. Its keys are random, so every append dirtied one more page in a random
        //   place. Nothing looks events up by hash; the chain trigger, the verifiers and the signed checkpoints
        //   are what protect the hashes.
        // - Events are found by candidate through `registration_seq` (the seq of the candidate's registration
        //   event) instead of the candidate id. The candidates being screened now are mostly the recently
        //   registered ones, so their events land together at the end of the index instead of one page per
        //   candidate; the id is looked up once, in a unique index over registrations alone.
        // SQLite cannot change a column's constraints, so the table is copied row for row in the upgrade's
        // transaction (the store checks the size and head hash are unchanged before committing). The triggers
        // are written out again, not shared with 0001, so that no edit can change what a shipped migration ran.
        ("0003_events_by_registration", """
        CREATE TABLE events_0003 (
            seq        INTEGER PRIMARY KEY CHECK (seq >= 1),
            ts         TEXT    NOT NULL CHECK (length(ts) = 24 AND substr(ts, 24, 1) = 'Z'),
            actor      TEXT    NOT NULL CHECK (length(actor) > 0),
            type       TEXT    NOT NULL CHECK (length(type) > 0),
            candidate  TEXT,
            prev_hash  TEXT    NOT NULL CHECK (length(prev_hash) = 64),
            hash       TEXT    NOT NULL CHECK (length(hash) = 64),
            body       TEXT    NOT NULL CHECK (json_valid(body)),
            registration_seq INTEGER CHECK (registration_seq BETWEEN 1 AND seq)
        ) STRICT;
        INSERT INTO events_0003 (seq, ts, actor, type, candidate, prev_hash, hash, body, registration_seq)
            SELECT e.seq, e.ts, e.actor, e.type, e.candidate, e.prev_hash, e.hash, e.body,
                   CASE WHEN e.type = 'candidate.registered' THEN e.seq
                        ELSE (SELECT min(r.seq) FROM events r WHERE r.candidate = e.candidate AND r.type = 'candidate.registered') END
            FROM events e ORDER BY e.seq;
        DROP TRIGGER checkpoints_cover_events;
        DROP TABLE events;
        ALTER TABLE events_0003 RENAME TO events;
        CREATE UNIQUE INDEX events_registrations ON events (candidate) WHERE type = 'candidate.registered';
        CREATE INDEX events_by_registration ON events (registration_seq, seq);
        CREATE INDEX events_by_type ON events (type, seq);
        CREATE TRIGGER events_no_update BEFORE UPDATE ON events
            BEGIN SELECT RAISE(ABORT, 'events are append-only: UPDATE is not allowed'); END;
        CREATE TRIGGER events_no_delete BEFORE DELETE ON events
            BEGIN SELECT RAISE(ABORT, 'events are append-only: DELETE is not allowed'); END;
        CREATE TRIGGER events_in_order BEFORE INSERT ON events
            WHEN NEW.seq <> coalesce((SELECT max(seq) FROM events), 0) + 1
            BEGIN SELECT RAISE(ABORT, 'events are numbered without gaps'); END;
        CREATE TRIGGER events_chained BEFORE INSERT ON events
            WHEN NEW.prev_hash <> coalesce((SELECT hash FROM events WHERE seq = NEW.seq - 1), '\(String(repeating: "0", count: 64))')
            BEGIN SELECT RAISE(ABORT, 'prev_hash must be the hash of the previous event'); END;
        CREATE TRIGGER events_registration BEFORE INSERT ON events
            WHEN NEW.registration_seq IS NOT (CASE WHEN NEW.type = 'candidate.registered' THEN NEW.seq
                ELSE (SELECT seq FROM events WHERE type = 'candidate.registered' AND candidate = NEW.candidate) END)
            BEGIN SELECT RAISE(ABORT, 'registration_seq must be the seq of the candidate''s registration'); END;
        CREATE TRIGGER checkpoints_cover_events BEFORE INSERT ON checkpoints
            WHEN NEW.size > coalesce((SELECT max(seq) FROM events), 0)
            BEGIN SELECT RAISE(ABORT, 'a checkpoint cannot cover events that do not exist'); END;
        """),
        // Report snapshots: the state a screening report is computed from, saved at a log position and signed
        // with the trial key, so a report folds on from the newest snapshot instead of from the first event. They
        // are derived data, never evidence: a report checks one before using it and ignores one that fails, and
        // old ones may be deleted. None is ever changed.
        ("0004_report_snapshots", """
        CREATE TABLE report_snapshots (
            size      INTEGER PRIMARY KEY CHECK (size >= 1),
            head      TEXT    NOT NULL CHECK (length(head) = 64),
            made_at   TEXT    NOT NULL CHECK (length(made_at) = 24 AND substr(made_at, 24, 1) = 'Z'),
            state     BLOB    NOT NULL,
            statement TEXT    NOT NULL CHECK (json_valid(statement)),
            signature TEXT    NOT NULL CHECK (length(signature) > 0)
        ) STRICT;
        CREATE TRIGGER report_snapshots_no_update BEFORE UPDATE ON report_snapshots
            BEGIN SELECT RAISE(ABORT, 'report snapshots are never changed: UPDATE is not allowed'); END;
        CREATE TRIGGER report_snapshots_cover_events BEFORE INSERT ON report_snapshots
            WHEN NEW.head IS NOT (SELECT hash FROM events WHERE seq = NEW.size)
            BEGIN SELECT RAISE(ABORT, 'a report snapshot must name an event and its hash'); END;
        """),
        // Witnesses' cosignatures of the log's checkpoints (C2SP tlog-cosignature): one note signature line per
        // witness and checkpoint, as the witness returned it. Never changed or removed.
        ("0005_cosignatures", """
        CREATE TABLE cosignatures (
            size        INTEGER NOT NULL REFERENCES checkpoints(size),
            witness     TEXT    NOT NULL CHECK (length(witness) > 0),
            line        TEXT    NOT NULL CHECK (substr(line, 1, 1) = '—' AND substr(line, -1, 1) = char(10)),
            received_at TEXT    NOT NULL CHECK (length(received_at) = 24 AND substr(received_at, 24, 1) = 'Z'),
            PRIMARY KEY (size, witness)
        ) STRICT;
        CREATE TRIGGER cosignatures_no_update BEFORE UPDATE ON cosignatures
            BEGIN SELECT RAISE(ABORT, 'cosignatures are never changed: UPDATE is not allowed'); END;
        CREATE TRIGGER cosignatures_no_delete BEFORE DELETE ON cosignatures
            BEGIN SELECT RAISE(ABORT, 'cosignatures are never removed: DELETE is not allowed'); END;
        """),
        // And a witness's refusal of a checkpoint (C2SP tlog-witness 403/404/409/422…), kept with its answer: evidence
        // that the history a witness saw and this store differ, which `witness status` and `verify --witness` report.
        // A witness cosigns the checkpoint it holds again, with a newer time, when the log resubmits it: every
        // cosignature is kept (unique by its line), so that a verifier can ask for recent ones (`--max-age`). The
        // table of 0005 is rebuilt with that key, its rows copied as they were.
        ("0006_witness_refusals", """
        CREATE TABLE cosignatures_kept (
            id          INTEGER PRIMARY KEY,
            size        INTEGER NOT NULL REFERENCES checkpoints(size),
            witness     TEXT    NOT NULL CHECK (length(witness) > 0),
            line        TEXT    NOT NULL CHECK (substr(line, 1, 1) = '—' AND substr(line, -1, 1) = char(10)),
            received_at TEXT    NOT NULL CHECK (length(received_at) = 24 AND substr(received_at, 24, 1) = 'Z'),
            UNIQUE (size, witness, line)
        ) STRICT;
        INSERT INTO cosignatures_kept (size, witness, line, received_at)
            SELECT size, witness, line, received_at FROM cosignatures ORDER BY received_at, size, witness;
        DROP TRIGGER cosignatures_no_update;
        DROP TRIGGER cosignatures_no_delete;
        DROP TABLE cosignatures;
        ALTER TABLE cosignatures_kept RENAME TO cosignatures;
        CREATE TRIGGER cosignatures_no_update BEFORE UPDATE ON cosignatures
            BEGIN SELECT RAISE(ABORT, 'cosignatures are never changed: UPDATE is not allowed'); END;
        CREATE TRIGGER cosignatures_no_delete BEFORE DELETE ON cosignatures
            BEGIN SELECT RAISE(ABORT, 'cosignatures are never removed: DELETE is not allowed'); END;
        CREATE TABLE witness_refusals (
            id          INTEGER PRIMARY KEY,
            size        INTEGER NOT NULL REFERENCES checkpoints(size),
            witness     TEXT    NOT NULL CHECK (length(witness) > 0),
            status      INTEGER NOT NULL CHECK (status BETWEEN 100 AND 599),
            answer      TEXT    NOT NULL CHECK (length(answer) <= 1024),
            received_at TEXT    NOT NULL CHECK (length(received_at) = 24 AND substr(received_at, 24, 1) = 'Z')
        ) STRICT;
        CREATE TRIGGER witness_refusals_no_update BEFORE UPDATE ON witness_refusals
            BEGIN SELECT RAISE(ABORT, 'witness refusals are never changed: UPDATE is not allowed'); END;
        CREATE TRIGGER witness_refusals_no_delete BEFORE DELETE ON witness_refusals
            BEGIN SELECT RAISE(ABORT, 'witness refusals are never removed: DELETE is not allowed'); END;
        """),
    ]
}
