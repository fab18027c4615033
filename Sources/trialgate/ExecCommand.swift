import ArgumentParser
import Foundation
import TrialGateAudit
import TrialGateCore
import TrialGateService
import TrialGateStore

struct Exec: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Read one JSON request per line from stdin and answer one JSON line each (see docs/protocol.md).")
    @OptionGroup var options: StoreOptions

    func run() throws {
        let store = try Runner.openStore(options)
        defer { store.close() }
        let dispatcher = Dispatcher(store: store, clock: SystemClock(), key: { try TrialKey.load(path: options.keyPath) })
        let actor = options.actorName
        // The socket's line protocol, as the host's actor: the same framing, blank lines, parsing and replies.
        var session = LineProtocol.host(actor: actor)
        var failures = 0
        var accountsSeen: Int64 = -1
        // Requests done, on a terminal's stderr (the replies go to stdout, one line each, as ever).
        let progress = ProgressLine("exec", unit: "lines", quiet: options.quiet || isatty(STDIN_FILENO) == 1, streaming: true)
        defer { progress.finish() }
        var done: Int64 = 0
        while let line = readLine(strippingNewline: true) {
            done += 1
            progress.update(done, of: nil)
            let frame = Frame.line(framing: line.utf8)
            if frame.isBlank { continue }
            // As for every command-line write: never under an account's name (checked again when accounts change).
            do {
                let version = try store.newestSeq(types: EventType.accountEvents)
                if version != accountsSeen {
                    try Runner.requireHostActor(actor, store: store)
                    accountsSeen = version
                }
            } catch {
                throw Runner.fail(TrialGateError(error))
            }
            guard let reply = dispatcher.answer(frame, with: &session) else { continue }
            if !reply.ok { failures += 1 }
            print(String(decoding: reply.line, as: UTF8.self))
            fflush(nil)
        }
        // The witnesses see the log once, as it stands after the whole input.
        Runner.submitToWitnesses(store)
        if failures > 0 { throw ExitCode(2) }
    }
}
