import ArgumentParser
import Foundation
import TrialGateAudit
import TrialGateCore
import TrialGateStore

/// Times each stage of verification separately over an existing store.
struct StagesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stages",
        abstract: "Time each stage of verification separately over an existing store, in µs per event."
    )

    @Argument(help: ArgumentHelp("The store, e.g. .bench-tmp/large.sqlite kept by `run --keep`.", valueName: "store"))
    var path: String

    func run() throws {
        let store = try EventStore.open(path: path)
        var rows: [StoredRow] = []
        let tRead = try seconds { try store.forEachRow { rows.append($0) } }
        var events: [Event] = []
        let tParse = try seconds { events = try rows.map { try $0.event() } }
        let tEncode = seconds { for e in events { _ = e.canonicalBody } }
        let tHash = seconds { for r in rows { _ = Digest.sha256Hex(r.body) } }
        var state = LogState()
        let tApply = try seconds { for e in events { try state.apply(e) } }
        var auditor = LogAuditor()
        let tAudit = seconds { for (e, r) in zip(events, rows) { auditor.feed(e, storedBody: r.body) }; auditor.finish() }
        let n = Double(rows.count)
        for (name, t) in [("read", tRead), ("parse", tParse), ("encode", tEncode), ("hash", tHash), ("apply", tApply), ("audit (all checks)", tAudit)] {
            print("\(name): \(String(format: "%.1f", t / n * 1e6)) µs/event")
        }
    }
}
