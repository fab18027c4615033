import ArgumentParser
import Foundation
import TrialGateAudit
import TrialGateCore
import TrialGateService
import TrialGateStore

struct Init: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Create a store and the trial's Ed25519 signing key.")

    @OptionGroup var options: StoreOptions
    @Option(name: .long, help: "The trial's identifier (letters, digits, '.', '_', '-').") var trial: String
    @Option(name: .long, help: "The log's origin name (default: trialgate/<trial>).") var origin: String?
    @Option(name: .long, help: "On PostgreSQL: the role TrialGate will write with, granted only SELECT and INSERT on the log's tables (run init as the role that owns them).")
    var writerRole: String?

    func run() throws {
        let keyPath = options.keyPath
        let storePath = options.storePath
        if FileManager.default.fileExists(atPath: keyPath) {
            throw Runner.fail(TrialGateError(.keyExists, "\(keyPath) already exists; choose another --key or move it away"))
        }
        let onPostgres = PostgresLocation.names(storePath)
        if writerRole != nil, !onPostgres {
            throw Runner.fail(TrialGateError(.badRequest, "--writer-role: only a PostgreSQL store has roles; \(storePath) is an SQLite file"))
        }
        var created: [String] = []
        var made: EventStore?
        defer { made?.close() }
        do {
            let key = TrialKey.generate()
            let store = try EventStore.create(path: storePath, writerRole: writerRole)
            made = store
            if !onPostgres { created = [storePath, storePath + "-wal", storePath + "-shm"] }
            try key.write(to: keyPath)
            created.append(keyPath)
            let dispatcher = Dispatcher(store: store, clock: SystemClock(), key: { key })
            let command = Command.initialise(trialID: trial, logOrigin: origin ?? "trialgate/\(trial)")
            let receipt = try Runner.typed(try dispatcher.perform(command, actor: options.actorName), as: WriteReceipt.self, command: command)
            if options.json { Runner.printJSON(receipt); return }
            print("Created store \(storePath) for trial \(trial).")
            print("Signing key \(keyPath) (mode 0600), key id \(receipt.keyID ?? "").")
            print("Public key:\n" + (receipt.publicKeyPEM ?? ""), terminator: "")
        } catch {
            // Nothing half-made stays behind: a PostgreSQL trial whose log is still empty is dropped (on its own
            // connection, still open here), an SQLite file unlinked.
            if onPostgres { try? made?.removeIfEmpty() }
            made?.close()
            for path in created { unlink(path) }
            if let exit = error as? ExitCode { throw exit }
            throw Runner.fail(TrialGateError(error))
        }
    }
}
