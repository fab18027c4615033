import ArgumentParser
import Foundation
import TrialGateCore
import TrialGateService
import TrialGateStore

/// Reports over a large log, folded from the first event and from a snapshot.
struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "A report over a log of N events, nine per candidate, folded from the first event and from a snapshot."
    )

    @OptionGroup var options: BenchOptions

    @Argument(help: ArgumentHelp("How many events the log has.", valueName: "n"))
    var total: Int

    func run() throws {
        let dir = try options.freshDirectory()
        defer { options.cleanUp() }
        let log = try ReportLog(dir: dir, workload: Workload(today: SystemClock().now().date))
        let buildTime = try seconds { try log.grow(to: Int64(total)) }
        print("built \(log.built) events, \(log.candidates) candidates in \(String(format: "%.1f", buildTime)) s")
        let coldJSON = try log.report("json", "folded from the first event")
        let coldCSV = try log.report("csv", "folded from the first event")
        try log.snapshot()
        let warmJSON = try log.report("json", "snapshot at the head")
        let warmCSV = try log.report("csv", "snapshot at the head")
        print("same bytes with and without the snapshot: JSON \(coldJSON == warmJSON), CSV \(coldCSV == warmCSV)")
        let snapshotAt = log.built
        for tail in [10_000, 100_000] {
            try log.grow(to: snapshotAt + Int64(tail))
            _ = try log.report("json", "snapshot \(log.built - snapshotAt) events back")
        }
        try log.snapshot()
    }
}

/// The report benchmark's log: candidates of nine events each (register, clinical, imaging, three Ki-67, SSTR,
/// model score, a decision), and a second dispatcher on the same store that reports.
final class ReportLog {
    let dir: String
    let workload: Workload
    let dispatcher: Dispatcher
    let store: EventStore
    var built: Int64 = 2
    var candidates = 0
    /// The reporting dispatcher, opened at the first report, once the log is built.
    private var opened: Dispatcher?

    init(dir: String, workload: Workload) throws {
        self.dir = dir
        self.workload = workload
        (dispatcher, store) = try freshDispatcher("report", in: dir)
    }

    /// Appends candidates until the log has `total` events, in batches of up to 1,000 commands.
    func grow(to total: Int64) throws {
        while built < total {
            var batch: [(command: Command, actor: String)] = []
            while batch.count < 1000 && built + Int64(batch.count) < total {
                let id = "R-\(candidates)"
                for c in workload.commands(for: id) where c.name != "decide" { batch.append((c, "bench")) }
                let ki67 = workload.ki67(percent: 9)
                batch.append((.record(kind: "ki67", candidate: id, fields: ki67), "bench"))
                batch.append((.record(kind: "ki67", candidate: id, fields: ki67), "bench"))
                batch.append((.decide(candidate: id), "bench"))
                candidates += 1
            }
            _ = try dispatcher.executeBatch(batch)
            built = try store.head().size
        }
    }

    private func openReader() throws -> Dispatcher {
        if let opened { return opened }
        let reader = Dispatcher(store: try EventStore.open(path: dir + "/report.sqlite"), clock: SystemClock(), key: { try benchKey() })
        opened = reader
        return reader
    }

    /// Times one report and prints it; returns its bytes.
    func report(_ format: String, _ what: String) throws -> [UInt8] {
        var out: [UInt8] = []
        let reader = try openReader()
        let t = try seconds {
            out = CanonicalJSON.encode(try reader.execute(.report(asOfSeq: nil, asOfTime: nil, site: nil, from: nil, to: nil, format: format), actor: "bench"))
        }
        print("report (\(format)) over \(built) events, \(candidates) candidates, \(what): \(String(format: "%.2f", t)) s, \(out.count) bytes")
        return out
    }

    /// Saves a report snapshot at the head, timed.
    func snapshot() throws {
        var r: JSONValue = .null
        let reader = try openReader()
        let t = try seconds { r = try reader.execute(.reportSnapshot, actor: "bench") }
        let from = r["folded_from"]?.intValue.map { "the snapshot at \($0)" } ?? "the first event"
        print("report.snapshot at \(built) events, folded from \(from): \(String(format: "%.2f", t)) s, \(r["bytes"]?.intValue ?? 0) bytes")
    }
}
