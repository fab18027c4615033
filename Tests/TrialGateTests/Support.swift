import Foundation
import Testing
import TrialGateAudit
import TrialGateCore
import TrialGateService
@testable import TrialGateStore

/// Reads a fixture file shipped with the tests.
func fixture(_ path: String) throws -> Data {
    guard let base = Bundle.module.resourceURL else { throw TrialGateError(.internal, "no test resources") }
    return try Data(contentsOf: base.appendingPathComponent("Fixtures").appendingPathComponent(path))
}

func fixtureText(_ path: String) throws -> String { String(decoding: try fixture(path), as: UTF8.self) }

/// A clock the test moves by hand.
final class TestClock: TimeSource, @unchecked Sendable {
    var instant: UTCTimestamp
    init(_ text: String = "2026-07-01T09:00:00.000Z") { instant = UTCTimestamp(text)! }
    func now() -> UTCTimestamp { instant }
    func advance(seconds: Int64) { instant = UTCTimestamp(millisecondsSinceEpoch: instant.millisecondsSinceEpoch + seconds * 1000) }
}

/// A throwaway directory removed when the value goes away.
final class TempDir {
    let path: String
    init() {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("tg-test-\(UUID().uuidString)").path
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }
    deinit { try? FileManager.default.removeItem(atPath: path) }
}

/// The database a test's store lives in. The store tests run on each (`TestPostgres.engines`).
enum StoreEngine: String, Sendable, CustomTestStringConvertible {
    case sqlite, postgres
    var testDescription: String { rawValue }
}

/// The PostgreSQL that `scripts/postgres.sh start` runs for the tests (`.ci/run` starts it and exports its URLs).
enum TestPostgres {
    /// The owner role's URL (creates trials' schemas), without a trial.
    static var ownerURL: String? { ProcessInfo.processInfo.environment["TRIALGATE_PG_PRIMARY"] }
    /// The writer role's URL: only reads and appends.
    static var writerURL: String? { ProcessInfo.processInfo.environment["TRIALGATE_PG_WRITER"] }
    /// The streaming replica's URL (read-only).
    static var replicaURL: String? { ProcessInfo.processInfo.environment["TRIALGATE_PG_REPLICA"] }
    /// Whether a missing server is a failure (CI) rather than a reason to test SQLite alone (a laptop without one).
    static var required: Bool { ProcessInfo.processInfo.environment["TRIALGATE_REQUIRE_POSTGRES"] == "1" }
    /// The engines the store tests run on: SQLite always, PostgreSQL when a server is there.
    static var engines: [StoreEngine] { ownerURL == nil ? [.sqlite] : [.sqlite, .postgres] }

    /// A new trial name no other test uses.
    static func newTrial() -> String { "t" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(20) }

    static func url(_ base: String, trial: String) -> String { base + "?trial=" + trial }

    /// Runs `sql` as the owner (`as: .owner`) or the writer, in the trial's schema; returns the server's error message, or
    /// nil when it succeeded.
    static func run(_ sql: String, trial: String, asOwner: Bool = true) throws -> String? {
        let location = try PostgresLocation(url((asOwner ? ownerURL : writerURL)!, trial: trial))
        let box = try PostgresConnectionBox(location)
        defer { box.close() }
        try box.rows("SET search_path = \(location.schema)", [], "entering")
        do {
            try box.script(sql, "a test's SQL")
            return nil
        } catch let e as TrialGateError {
            return e.message
        }
    }

    /// Drops a test's trial (the owner may; the writer may not).
    static func drop(trial: String) {
        guard let ownerURL, let location = try? PostgresLocation(url(ownerURL, trial: trial)), let box = try? PostgresConnectionBox(location) else { return }
        _ = try? box.rows("DROP SCHEMA IF EXISTS \(location.schema) CASCADE", [], "dropping a test trial")
        box.close()
    }
}

/// A fresh initialised store with the shipped policy published, and a dispatcher on it.
final class Fixture {
    let dir = TempDir()
    let store: EventStore
    let key: TrialKey
    let clock = TestClock()
    let dispatcher: Dispatcher
    let engine: StoreEngine
    /// The PostgreSQL trial's name (nil on SQLite).
    let trial: String?
    /// Where the store is: the SQLite file, or the writer's URL of the PostgreSQL trial.
    var storePath: String { trial.map { TestPostgres.url(TestPostgres.writerURL!, trial: $0) } ?? dir.path + "/t.sqlite" }

    /// - Parameter schemaVersion: build the store as an older release would have (its first migrations only).
    /// - Parameter engine: on PostgreSQL, the owner creates the trial and grants the writer role; the store is then
    ///   opened as the writer, whose rights are only to read and append.
    init(policy: String? = nil, keySeed: UInt8 = 7, candidateCacheCapacity: Int = Dispatcher.defaultCandidateCacheCapacity,
         schemaVersion: Int? = nil, engine: StoreEngine = .sqlite) throws {
        key = try TrialKey(seed: Array(repeating: keySeed, count: 32))
        self.engine = engine
        let path = dir.path + "/t.sqlite"
        if engine == .postgres {
            let trial = TestPostgres.newTrial()
            self.trial = trial
            try EventStore.create(path: TestPostgres.url(TestPostgres.ownerURL!, trial: trial), writerRole: "tg_writer").close()
            store = try EventStore.open(path: TestPostgres.url(TestPostgres.writerURL!, trial: trial))
        } else {
            trial = nil
            store = try schemaVersion.map { try EventStore.create(path: path, schemaVersion: $0) } ?? EventStore.create(path: path)
        }
        let key = self.key
        dispatcher = Dispatcher(store: store, clock: clock, key: { key }, candidateCacheCapacity: candidateCacheCapacity)
        _ = try dispatcher.execute(.initialise(trialID: "T-1", logOrigin: "trialgate.test/T-1"), actor: "admin")
        if let policy { _ = try dispatcher.execute(.policyPublish(text: policy, file: "p.yaml"), actor: "admin") }
    }

    deinit {
        if let trial {
            store.close()
            TestPostgres.drop(trial: trial)
        }
    }

    @discardableResult
    func run(_ command: Command, as actor: String = "coordinator") throws -> JSONValue {
        try dispatcher.execute(command, actor: actor)
    }

    /// The error code a command fails with, or nil if it succeeds.
    func errorCode(_ command: Command) -> String? {
        do { _ = try run(command); return nil } catch { return TrialGateError(error).code.rawValue }
    }

    func size() throws -> Int64 { try store.head().size }

    /// A new store holding this log rebuilt by an insider without the signing key: the candidate's Ki-67 lowered
    /// to 5 %, every hash after it recomputed so the chain is whole again.
    func forgedCopyLoweringKi67(of candidate: String) throws -> EventStore {
        let target = try store.events().first { $0.candidate == candidate && $0.type == .ki67Recorded }!.seq
        return try forgedCopy { event, draft in
            if event.seq == target { draft.payload = ["percent": 5, "specimen_date": draft.payload["specimen_date"]!, "method": "manual_count"] }
        }
    }

    /// A new store holding this log with `change` made to events' drafts and the chain sealed again, as an insider
    /// without the signing key could write it (no checkpoint covers it).
    func forgedCopy(_ change: (Event, inout EventDraft) -> Void) throws -> EventStore {
        var events = try store.events()
        var prev = Event.genesisHash
        for i in events.indices {
            var draft = events[i].draft
            change(events[i], &draft)
            events[i] = HashChain.seal(draft, seq: events[i].seq, prevHash: prev)
            prev = events[i].hash
        }
        let forged = try EventStore.create(path: dir.path + "/forged.sqlite")
        try forged.write { txn in for e in events { try txn.append(e) } }
        return forged
    }
}

/// Runs a program and returns (status, stdout+stderr).
@discardableResult
func shell(_ args: [String], input: String? = nil) throws -> (Int32, String) {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    p.arguments = args
    let out = Pipe()
    p.standardOutput = out
    p.standardError = out
    if let input {
        let inPipe = Pipe()
        p.standardInput = inPipe
        try p.run()
        inPipe.fileHandleForWriting.write(Data(input.utf8))
        try inPipe.fileHandleForWriting.close()
    } else {
        try p.run()
    }
    let data = out.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return (p.terminationStatus, String(decoding: data, as: UTF8.self))
}

/// SplitMix64: a seeded generator, so that generated cases are the same on every run and a failure names a seed
/// that reproduces it.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
