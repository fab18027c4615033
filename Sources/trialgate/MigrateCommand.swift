import ArgumentParser
import Foundation
import TrialGateAudit
import TrialGateCore
import TrialGateService
import TrialGateStore

/// Moves a trial's log between databases (an SQLite file and a PostgreSQL trial, either way), verified end to end.
struct Migrate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Copy a trial's whole log into a new store on another database (SQLite ↔ PostgreSQL), verified end to end.",
        discussion: """
            The source must verify. The target is created (it must not exist), and every event, checkpoint, cosignature, \
            witness refusal and report snapshot is copied as stored, in one transaction; nothing is re-signed. The copy is \
            then verified on its own, and its head, root, checkpoints and every row are compared with the source's. The \
            source is left as it was: retire it only once the new store serves.
            """)

    @Option(name: .long, help: "The store to copy: an SQLite file or a postgres:// URL.") var from: String
    @Option(name: .long, help: "The new store: an SQLite file or a postgres:// URL (run as the role that is to own a PostgreSQL trial).") var to: String
    @Option(name: .long, help: "On PostgreSQL: the role TrialGate will write with, granted only SELECT and INSERT on the log's tables.") var writerRole: String?
    @Flag(name: .long, help: "Print the result as JSON.") var json = false

    func run() throws {
        do {
            let source = try EventStore.open(path: from)
            defer { source.close() }
            let before = try verified(source, "the source \(from)")
            let target = try EventStore.create(path: to, writerRole: writerRole)
            var copied = false
            defer {
                if !copied { removeUnfinished(target) }
                target.close()
            }
            let summary = try source.copyLog(to: target)
            copied = true
            let after = try verified(target, "the copy \(to)")
            guard after.head == before.head, after.root == before.root, after.events == before.events,
                  try target.checkpoints() == source.checkpoints(), try rowsDigest(target) == rowsDigest(source) else {
                throw TrialGateError(.storeCorrupt, "the copy in \(to) verifies but differs from \(from) (head \(after.head.prefix(16)) against \(before.head.prefix(16))); keep using \(from)")
            }
            if json {
                Runner.printJSON(["from": .string(from), "to": .string(to), "events": .number(Double(summary.events)),
                                  "checkpoints": .number(Double(summary.checkpoints)), "cosignatures": .number(Double(summary.cosignatures)),
                                  "witness_refusals": .number(Double(summary.refusals)), "report_snapshots": .number(Double(summary.reportSnapshots)),
                                  "head": .string(after.head), "root": .string(after.root)] as JSONValue)
                return
            }
            print("Copied \(summary.events) events, \(summary.checkpoints) checkpoints, \(summary.cosignatures) cosignatures, \(summary.refusals) witness refusals and \(summary.reportSnapshots) report snapshots from \(from) to \(to).")
            print("Both verify, with the same head \(after.head) and root \(after.root), the same checkpoints and the same bytes in every row.")
        } catch let exit as ExitCode {
            throw exit
        } catch {
            throw Runner.fail(TrialGateError(error))
        }
    }

    /// Verifies a store on its own (as a regulator would) and returns the reply; refuses one that does not verify.
    private func verified(_ store: EventStore, _ what: String) throws -> VerifyReply {
        let reply = try Dispatcher(store: store, clock: SystemClock(), key: { throw TrialGateError(.keyUnreadable, "migrate signs nothing") })
            .perform(.verify(), actor: "migrate").decode(VerifyReply.self)
        guard reply.valid else {
            let first = reply.problems.first.map { "event \($0.seq): \($0.code): \($0.message)" } ?? "\(reply.problemCount) problems"
            throw TrialGateError(.storeCorrupt, "\(what) does not verify (\(first)); nothing was copied from a log that does not verify")
        }
        return reply
    }

    /// A SHA-256 chain over every stored row's columns and body bytes, in order.
    private func rowsDigest(_ store: EventStore) throws -> String {
        var running = ""
        try store.forEachRow { r in
            running = Digest.sha256Hex(running + "|\(r.seq)|\(r.timestamp)|\(r.actor)|\(r.type)|\(r.candidate ?? "")|\(r.prevHash)|\(r.hash)|"
                                       + "\(r.registrationSeq ?? 0)|" + Digest.sha256Hex(r.body))
        }
        return running
    }

    private func removeUnfinished(_ target: EventStore) {
        if PostgresLocation.names(to) {
            try? target.removeIfEmpty()
        } else {
            for suffix in ["", "-wal", "-shm"] { unlink(to + suffix) }
        }
    }
}
