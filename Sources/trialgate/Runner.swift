import ArgumentParser
import Foundation
import TrialGateAudit
import TrialGateCore
import TrialGateService
import TrialGateStore
import TrialGateWitness

/// Environment lookups for defaults.
enum Environment {
    static func get(_ name: String) -> String? {
        guard let v = ProcessInfo.processInfo.environment[name], !v.isEmpty else { return nil }
        return v
    }

    /// The operating-system account running the CLI, as an actor name.
    static var osActor: String {
        if let pw = getpwuid(geteuid()), let name = pw.pointee.pw_name { return "os:" + String(cString: name) }
        return "os:uid\(geteuid())"
    }
}

/// Runs commands through the dispatcher and turns failures into messages and exit codes.
enum Runner {
    static func fail(_ error: TrialGateError) -> ExitCode {
        FileHandle.standardError.write(Data("trialgate: error: \(error.code.rawValue): \(error.message)\n".utf8))
        return ExitCode(error.code.exitStatus)
    }

    /// Opens the store, runs one command, and returns its typed reply; on failure prints the error and exits.
    static func perform(_ command: Command, options: StoreOptions, needsStore: Bool = true) throws -> Reply {
        do {
            let store = needsStore ? try EventStore.open(path: options.storePath) : nil
            defer { store?.close() }
            if let store, command.writes { try requireHostActor(options.actorName, store: store) }
            let dispatcher = Dispatcher(store: store, clock: SystemClock(), key: { try TrialKey.load(path: options.keyPath) })
            // Long passes over the log (verify, replay, a report folded from the start) report how far they are.
            let line = ProgressLine(command.name, unit: command.name == "import" ? "rows" : "events", quiet: options.quiet)
            if line.enabled { dispatcher.progress = { line.update($0, of: $1) } }
            defer { line.finish() }
            let reply = try dispatcher.perform(command, actor: options.actorName)
            if case .view(let view) = reply { warnAboutLog(view.logWarning) }
            if let store, command.writes { submitToWitnesses(store) }
            return reply
        } catch {
            throw fail(TrialGateError(error))
        }
    }

    /// After a write, when `TRIALGATE_WITNESSES` names witnesses: submits the newest checkpoint to each (5 s at most
    /// each). The write is committed already; a witness that is down or refuses is a warning on stderr, never a
    /// failure of the write, and `witness status` shows the lag.
    static func submitToWitnesses(_ store: EventStore) {
        guard let text = Environment.get("TRIALGATE_WITNESSES") else { return }
        do {
            let targets = try WitnessTarget.list(text)
            let cosigned = try store.cosignedSizes()
            guard let newest = try store.latestCheckpoint()?.size else { return }
            for target in targets where (cosigned[target.key.name] ?? 0) < newest {
                do {
                    _ = try submit(to: target, store: store, timeout: 5)
                } catch {
                    let e = TrialGateError(error)
                    FileHandle.standardError.write(Data("trialgate: warning: the write is recorded, but \(target.key.name) did not cosign: \(e.code.rawValue): \(e.message)\n".utf8))
                }
            }
        } catch {
            let e = TrialGateError(error)
            FileHandle.standardError.write(Data("trialgate: warning: TRIALGATE_WITNESSES: \(e.code.rawValue): \(e.message)\n".utf8))
        }
    }

    /// Submits the store's newest checkpoint to `target` over HTTP(S) (`WitnessClient`) and keeps its cosignature.
    static func submit(to target: WitnessTarget, store: EventStore, timeout: TimeInterval) throws -> WitnessSubmission.Outcome {
        try WitnessSubmission.submit(store: store, key: target.key, transport: { try WitnessClient.post(url: target.url, body: $0, timeout: timeout) },
                                     now: SystemClock().now())
    }

    /// Vkeys given on the command line: each inline, or a file of them, one a line.
    static func vkeys(_ values: [String]) throws -> [String] {
        try values.flatMap { value in
            try inlineOrFile(value).split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        }
    }

    /// Runs one view or listing and returns its typed reply.
    static func view<T: ReplyView>(_ command: Command, as type: T.Type, options: StoreOptions, needsStore: Bool = true) throws -> T {
        try typed(try perform(command, options: options, needsStore: needsStore), as: T.self, command: command)
    }

    /// `reply` as `T`, or exits with the error that says which member does not fit (a server of another version).
    static func typed<T: ReplyView>(_ reply: Reply, as type: T.Type, command: Command) throws -> T {
        do { return try reply.decode(T.self) } catch {
            throw fail(TrialGateError(.internal, "\(command.name) answered a reply this command line cannot read: \(TrialGateError(error).message)"))
        }
    }

    /// What a write that succeeded answered: its typed receipt, or, when the receipt cannot be read (a newer or a
    /// misbehaving server), nil after a warning: the write is recorded all the same, and must not be reported as failed
    /// (a retry would be refused, or record it twice).
    static func recorded(_ reply: Reply, command: Command) -> WriteReceipt? {
        do { return try reply.decode(WriteReceipt.self) } catch {
            FileHandle.standardError.write(Data("trialgate: warning: \(command.name) was recorded, but its receipt cannot be read: \(TrialGateError(error).message)\n".utf8))
            return nil
        }
    }

    /// Runs one write and returns its receipt.
    static func write(_ command: Command, options: StoreOptions) throws -> WriteReceipt {
        guard case .written(let receipt) = try perform(command, options: options) else {
            throw fail(TrialGateError(.internal, "\(command.name) answered no write receipt"))
        }
        return receipt
    }

    /// A write on the command line is the host's, never an account's: an actor that names an account of the log
    /// would attribute the host user's events to that person (an investigator's name above all). Accounts act
    /// through the socket; an investigator's signing on the command line is authenticated by their signing code
    /// and key, whatever the actor.
    /// The actor must be printable ASCII without spaces, so no spelling (case, spaces, invisible characters) passes
    /// for an account's name either.
    static func requireHostActor(_ actor: String, store: EventStore) throws {
        guard !actor.isEmpty, actor.utf8.allSatisfy({ (0x21...0x7E).contains($0) }) else {
            throw TrialGateError(.invalidField, "the actor (--actor, $TRIALGATE_ACTOR) must be printable ASCII without spaces, got \"\(actor)\"")
        }
        guard !actor.contains(":") else { return }
        let accounts = try UserDirectory.load(store: store).accounts.keys
        if let account = accounts.first(where: { $0.lowercased() == actor.lowercased() }) {
            throw TrialGateError(.forbidden, "--actor \(actor) is the name of the account \(account) of this log; on the command line act under your own name (default os:<login>), and as \(account) only through the socket")
        }
    }

    nonisolated(unsafe) private static var warned = false

    /// Prints, once per run, a reader's warning that the log's head is not covered by a valid signed checkpoint.
    static func warnAboutLog(_ warning: String?) {
        guard !warned, let warning else { return }
        warned = true
        FileHandle.standardError.write(Data("trialgate: warning: the log is not covered by a valid signed checkpoint: \(warning)\n".utf8))
    }

    /// Runs the paged command `command(from)` from `first` on, handing `body` each reply and where its page began,
    /// until `body` answers no next page (the reply's `next_from`).
    /// With `total` (the last seq the pages reach), shows how far they are on a terminal (`ProgressLine`).
    static func forEachPage<T: ReplyView>(from first: Int64, as type: T.Type, options: StoreOptions, total: Int64? = nil, label: String = "export",
                                          _ command: (Int64) -> Command, _ body: (T, Int64) throws -> Int64?) throws {
        let line = ProgressLine(label, quiet: options.quiet, streaming: true)
        defer { line.finish() }
        var next: Int64? = first
        while let page = next {
            next = try body(try view(command(page), as: T.self, options: options), page)
            // Events done: up to the next page's first, or all of them after the last page.
            line.update(next.map { $0 - 1 } ?? total ?? page, of: total)
        }
    }

    /// Opens the store the options name, or exits with the error (for commands that read or keep more than a command does).
    static func openStore(_ options: StoreOptions) throws -> EventStore {
        do { return try EventStore.open(path: options.storePath) } catch { throw fail(TrialGateError(error)) }
    }

    /// A value given inline, or the text of the file it names (a vkey on the command line or in a file).
    static func inlineOrFile(_ value: String) throws -> String {
        FileManager.default.fileExists(atPath: value) ? try readFile(value) : value
    }

    /// Reads a whole file as UTF-8, or exits with a clear error.
    static func readFile(_ path: String) throws -> String {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw fail(TrialGateError(.fileUnreadable, "cannot read \(path)"))
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw fail(TrialGateError(.fileUnreadable, "\(path) is not UTF-8 text"))
        }
        return text
    }

    /// Reads an `--as-of` value: a sequence number or a UTC time; exits with a clear error otherwise.
    static func asOf(_ text: String?) throws -> (seq: Int64?, time: UTCTimestamp?) {
        guard let text else { return (nil, nil) }
        if let n = Int64(text) { return (n, nil) }
        if let t = UTCTimestamp(text) { return (nil, t) }
        throw fail(TrialGateError(.invalidField, "--as-of takes a sequence number or a UTC time like 2026-01-31T12:00:00Z, got \"\(text)\""))
    }

    static func printJSON(_ value: JSONValue) {
        print(CanonicalJSON.string(value))
    }

    /// Prints a typed reply as the JSON the wire carries.
    static func printJSON(_ reply: some ReplyView) {
        printJSON(reply.json)
    }
}
