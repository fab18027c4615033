// What the benchmarks share: timing and formatting, the raw commit baseline, a fresh trial store, and the
// synthetic candidates every log is built from.
import CSQLite
import Foundation
import TrialGateAudit
import TrialGateCore
import TrialGatePolicies
import TrialGateService
import TrialGateStore

/// How long `body` takes, in seconds, by the monotonic clock.
func seconds(_ body: () throws -> Void) rethrows -> Double {
    let start = DispatchTime.now().uptimeNanoseconds
    try body()
    return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
}

func ms(_ s: Double) -> String { String(format: "%.3f ms", s * 1000) }
func us(_ s: Double) -> String { String(format: "%.1f µs", s * 1e6) }
func rate(_ n: Int, _ s: Double) -> String { String(format: "%.0f/s", Double(n) / s) }

/// One durable SQLite commit, raw: WAL, synchronous=FULL, one small row per transaction, in a new file in `dir`.
/// - Returns: the mean time of one commit over `n`, in seconds.
func fsyncBaseline(_ n: Int, in dir: String) -> Double {
    let path = dir + "/baseline-\(UUID().uuidString).sqlite"
    var db: OpaquePointer?
    sqlite3_open(path, &db)
    defer { sqlite3_close(db) }
    sqlite3_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT NOT NULL);", nil, nil, nil)
    let payload = String(repeating: "x", count: 400)
    return seconds {
        for i in 0..<n {
            sqlite3_exec(db, "BEGIN IMMEDIATE; INSERT INTO t VALUES (\(i), '\(payload)'); COMMIT;", nil, nil, nil)
        }
    } / Double(n)
}

/// The bench's signing key: a fixed seed, so that signatures depend only on what is signed.
func benchKey() throws -> TrialKey { try TrialKey(seed: Array(repeating: 9, count: 32)) }

/// A new store `dir/name.sqlite` with trial BENCH initialised and SANET-ep published, and a dispatcher on it.
func freshDispatcher(_ name: String, in dir: String, clock: any TimeSource = SystemClock()) throws -> (Dispatcher, EventStore) {
    let store = try EventStore.create(path: dir + "/\(name).sqlite")
    let key = try benchKey()
    let d = Dispatcher(store: store, clock: clock, key: { key })
    _ = try d.execute(.initialise(trialID: "BENCH", logOrigin: "trialgate.bench/BENCH"), actor: "bench")
    _ = try d.execute(.policyPublish(text: ShippedPolicies.sanetEP, file: "policy"), actor: "bench")
    return (d, store)
}

/// The synthetic candidates: the demo scenario's first, an eligible candidate (register, five records, decide),
/// renamed for each use, with its dates relative to `today`.
struct Workload {
    let today: CivilDate
    let template: DemoScenario.Candidate

    init(today: CivilDate) {
        self.today = today
        template = DemoScenario(today: today).candidates[0]
    }

    /// The commands of one synthetic candidate, renamed `id`.
    func commands(for id: String) -> [Command] {
        template.steps.compactMap { step -> Command? in
            guard case .command(let c) = step else { return nil }
            switch c {
            case .register(_, let f): return .register(candidate: id, fields: f)
            case .record(let k, _, let f): return .record(kind: k, candidate: id, fields: f)
            case .decide: return .decide(candidate: id)
            default: return c
            }
        }
    }

    /// The fields of a Ki-67 record by manual count, taken today.
    func ki67(percent: JSONValue) -> JSONValue {
        ["percent": percent, "specimen_date": .string(today.description), "method": "manual_count"]
    }
}

/// Builds the large log: candidates L-0, L-1, … in batches of 1,000 commands (one commit and one checkpoint per
/// batch, and one per decision) until the log's size, counted in `size`, reaches `events`. `run` has always counted
/// the commands appended, and a candidate's eight commands store twelve events (four of them `query.opened`), so
/// its log is about half as large again; `merkle` and `identity` count the events stored.
/// - Returns: how many candidates (each with a decision) the log has.
func buildLargeLog(_ d: Dispatcher, _ store: EventStore, workload: Workload, events: Int, counting size: LogCount) throws -> Int {
    var built = 2
    var next = 0
    while built < events {
        var batch: [(command: Command, actor: String)] = []
        while batch.count < 1000 && built + batch.count < events {
            for c in workload.commands(for: "L-\(next)") { batch.append((c, "bench")) }
            next += 1
        }
        _ = try d.executeBatch(batch)
        switch size {
        case .commands: built += batch.count
        case .storedEvents: built = Int(try store.head().size)
        }
    }
    return next
}

/// What the large log's size is counted in.
enum LogCount {
    case commands
    case storedEvents
}

/// The key of a reader that signs nothing.
struct NoSigningKey: Error {}
