/// A PostgreSQL trial's schema (`tg_<trial>`), as named migrations never edited once shipped.
///
/// It holds the same tables and columns as an SQLite store (`Schema`), and the database itself enforces the same
/// promises: triggers refuse every `UPDATE`, `DELETE` and `TRUNCATE` of events, tree nodes, checkpoints, cosignatures
/// and refusals, and an insert that leaves a gap in the sequence or names the wrong predecessor's hash; and the
/// role TrialGate writes with is granted only `SELECT` and `INSERT` on those tables (`grants`), so that even with
/// the triggers gone it could not change a row. The owner role that runs the migrations owns the tables and
/// functions; the writer cannot alter or drop them.
enum PostgresSchema {
    static let zeroHash = String(repeating: "0", count: 64)

    /// The migrations, applied in order in one transaction with `search_path` set to the trial's schema.
    static let migrations: [(name: String, sql: String)] = [
        ("0001_log", """
        CREATE TABLE migrations (name text PRIMARY KEY, applied_at text NOT NULL);
        CREATE TABLE events (
            seq        bigint PRIMARY KEY CHECK (seq >= 1),
            ts         text   NOT NULL CHECK (length(ts) = 24 AND substr(ts, 24, 1) = 'Z'),
            actor      text   NOT NULL CHECK (length(actor) > 0),
            type       text   NOT NULL CHECK (length(type) > 0),
            candidate  text,
            prev_hash  text   NOT NULL CHECK (length(prev_hash) = 64),
            hash       text   NOT NULL CHECK (length(hash) = 64),
            body       text   NOT NULL CHECK (body::json IS NOT NULL),
            registration_seq bigint CHECK (registration_seq BETWEEN 1 AND seq)
        );
        CREATE UNIQUE INDEX events_registrations ON events (candidate) WHERE type = 'candidate.registered';
        CREATE INDEX events_by_registration ON events (registration_seq, seq);
        CREATE INDEX events_by_type ON events (type, seq);
        CREATE FUNCTION refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION '% is append-only: % is not allowed', TG_TABLE_NAME, TG_OP USING ERRCODE = 'integrity_constraint_violation';
        END $$;
        CREATE FUNCTION events_follow_head() RETURNS trigger LANGUAGE plpgsql AS $$
        DECLARE
            newest bigint;
            newest_hash text;
            registration bigint;
        BEGIN
            SELECT e.seq, e.hash INTO newest, newest_hash FROM events e ORDER BY e.seq DESC LIMIT 1;
            IF NEW.seq <> coalesce(newest, 0) + 1 THEN
                RAISE EXCEPTION 'events are numbered without gaps: % after %', NEW.seq, coalesce(newest, 0) USING ERRCODE = 'integrity_constraint_violation';
            END IF;
            IF NEW.prev_hash <> coalesce(newest_hash, '\(zeroHash)') THEN
                RAISE EXCEPTION 'prev_hash must be the hash of the previous event' USING ERRCODE = 'integrity_constraint_violation';
            END IF;
            IF NEW.type = 'candidate.registered' THEN
                registration := NEW.seq;
            ELSE
                SELECT e.seq INTO registration FROM events e WHERE e.type = 'candidate.registered' AND e.candidate = NEW.candidate;
            END IF;
            IF NEW.registration_seq IS DISTINCT FROM registration THEN
                RAISE EXCEPTION 'registration_seq must be the seq of the candidate''s registration' USING ERRCODE = 'integrity_constraint_violation';
            END IF;
            RETURN NEW;
        END $$;
        CREATE TRIGGER events_follow_head BEFORE INSERT ON events FOR EACH ROW EXECUTE FUNCTION events_follow_head();
        CREATE TRIGGER events_no_change BEFORE UPDATE OR DELETE ON events FOR EACH ROW EXECUTE FUNCTION refuse_change();
        CREATE TRIGGER events_no_truncate BEFORE TRUNCATE ON events FOR EACH STATEMENT EXECUTE FUNCTION refuse_change();

        CREATE TABLE merkle_nodes (
            level integer NOT NULL CHECK (level BETWEEN 4 AND 62),
            idx   bigint  NOT NULL CHECK (idx >= 0),
            hash  bytea   NOT NULL CHECK (length(hash) = 32),
            PRIMARY KEY (level, idx)
        );
        CREATE TRIGGER merkle_nodes_no_change BEFORE UPDATE OR DELETE ON merkle_nodes FOR EACH ROW EXECUTE FUNCTION refuse_change();
        CREATE TRIGGER merkle_nodes_no_truncate BEFORE TRUNCATE ON merkle_nodes FOR EACH STATEMENT EXECUTE FUNCTION refuse_change();

        CREATE TABLE checkpoints (
            size      bigint PRIMARY KEY CHECK (size >= 1),
            issued_at text   NOT NULL CHECK (length(issued_at) = 24 AND substr(issued_at, 24, 1) = 'Z'),
            note      text   NOT NULL CHECK (length(note) > 0)
        );
        CREATE FUNCTION checkpoints_cover_events() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF NEW.size > (SELECT coalesce(max(seq), 0) FROM events) THEN
                RAISE EXCEPTION 'a checkpoint cannot cover events that do not exist' USING ERRCODE = 'integrity_constraint_violation';
            END IF;
            RETURN NEW;
        END $$;
        CREATE TRIGGER checkpoints_cover_events BEFORE INSERT ON checkpoints FOR EACH ROW EXECUTE FUNCTION checkpoints_cover_events();
        CREATE TRIGGER checkpoints_no_change BEFORE UPDATE OR DELETE ON checkpoints FOR EACH ROW EXECUTE FUNCTION refuse_change();
        CREATE TRIGGER checkpoints_no_truncate BEFORE TRUNCATE ON checkpoints FOR EACH STATEMENT EXECUTE FUNCTION refuse_change();

        -- Derived data, never evidence (see the SQLite schema's 0004): replaced and pruned, never changed in place.
        CREATE TABLE report_snapshots (
            size      bigint PRIMARY KEY CHECK (size >= 1),
            head      text   NOT NULL CHECK (length(head) = 64),
            made_at   text   NOT NULL CHECK (length(made_at) = 24 AND substr(made_at, 24, 1) = 'Z'),
            state     bytea  NOT NULL,
            statement text   NOT NULL CHECK (statement::json IS NOT NULL),
            signature text   NOT NULL CHECK (length(signature) > 0)
        );
        CREATE FUNCTION report_snapshots_cover_events() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF NEW.head IS DISTINCT FROM (SELECT hash FROM events WHERE seq = NEW.size) THEN
                RAISE EXCEPTION 'a report snapshot must name an event and its hash' USING ERRCODE = 'integrity_constraint_violation';
            END IF;
            RETURN NEW;
        END $$;
        CREATE TRIGGER report_snapshots_cover_events BEFORE INSERT ON report_snapshots FOR EACH ROW EXECUTE FUNCTION report_snapshots_cover_events();
        CREATE TRIGGER report_snapshots_no_update BEFORE UPDATE ON report_snapshots FOR EACH ROW EXECUTE FUNCTION refuse_change();

        CREATE TABLE cosignatures (
            id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            size        bigint NOT NULL REFERENCES checkpoints(size),
            witness     text   NOT NULL CHECK (length(witness) > 0),
            line        text   NOT NULL CHECK (left(line, 1) = '—' AND right(line, 1) = E'\\n'),
            received_at text   NOT NULL CHECK (length(received_at) = 24 AND substr(received_at, 24, 1) = 'Z'),
            UNIQUE (size, witness, line)
        );
        CREATE TRIGGER cosignatures_no_change BEFORE UPDATE OR DELETE ON cosignatures FOR EACH ROW EXECUTE FUNCTION refuse_change();
        CREATE TRIGGER cosignatures_no_truncate BEFORE TRUNCATE ON cosignatures FOR EACH STATEMENT EXECUTE FUNCTION refuse_change();

        CREATE TABLE witness_refusals (
            id          bigint  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            size        bigint  NOT NULL REFERENCES checkpoints(size),
            witness     text    NOT NULL CHECK (length(witness) > 0),
            status      integer NOT NULL CHECK (status BETWEEN 100 AND 599),
            answer      text    NOT NULL CHECK (length(answer) <= 1024),
            received_at text    NOT NULL CHECK (length(received_at) = 24 AND substr(received_at, 24, 1) = 'Z')
        );
        CREATE TRIGGER witness_refusals_no_change BEFORE UPDATE OR DELETE ON witness_refusals FOR EACH ROW EXECUTE FUNCTION refuse_change();
        CREATE TRIGGER witness_refusals_no_truncate BEFORE TRUNCATE ON witness_refusals FOR EACH STATEMENT EXECUTE FUNCTION refuse_change();

        -- The writer lease of a trial served by several nodes (PostgresLogDatabase.holdLease): one row, the node that
        -- may write, where clients reach it, its term (epoch, raised at each takeover) and when the lease runs out.
        CREATE TABLE writer_lease (
            one        boolean PRIMARY KEY DEFAULT true CHECK (one),
            node       text    NOT NULL CHECK (length(node) > 0),
            address    text    NOT NULL,
            epoch      bigint  NOT NULL CHECK (epoch >= 1),
            expires_at timestamptz NOT NULL
        );
        """),
    ]

    /// The tables a writer may only read and append to.
    static let appendOnlyTables = ["events", "merkle_nodes", "checkpoints", "cosignatures", "witness_refusals", "migrations"]

    /// What the writer role may do, and nothing else: read and append to the log's tables, replace report
    /// snapshots (derived data the store prunes), and take and renew the writer lease.
    static func grants(schema: String, writer: String) -> String {
        let w = quoteIdentifier(writer)
        let s = quoteIdentifier(schema)
        return """
        REVOKE ALL ON SCHEMA \(s) FROM PUBLIC;
        GRANT USAGE ON SCHEMA \(s) TO \(w);
        REVOKE ALL ON ALL TABLES IN SCHEMA \(s) FROM \(w);
        GRANT SELECT, INSERT ON \(appendOnlyTables.map { "\(s).\($0)" }.joined(separator: ", ")) TO \(w);
        GRANT SELECT, INSERT, DELETE ON \(s).report_snapshots TO \(w);
        GRANT SELECT, INSERT, UPDATE ON \(s).writer_lease TO \(w);
        GRANT USAGE ON ALL SEQUENCES IN SCHEMA \(s) TO \(w);
        """
    }

    /// A PostgreSQL identifier in double quotes (names here are checked to be plain lower-case words first).
    static func quoteIdentifier(_ name: String) -> String { "\"" + name.replacingOccurrences(of: "\"", with: "\"\"") + "\"" }
}
