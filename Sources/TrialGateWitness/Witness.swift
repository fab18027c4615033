import Foundation
import NIOConcurrencyHelpers
import TrialGateAudit
import TrialGateCore

/// A witness: its key and state, and the one place an `add-checkpoint` request is decided, persisted and cosigned.
/// Requests are handled one at a time, so the check of the old size and the update of the state are atomic (C2SP
/// tlog-witness), and the new state is on disk before the cosignature is returned.
public final class Witness: Sendable {
    public let dir: String
    public let name: String
    let key: TrialKey
    private let state: NIOLockedValueBox<WitnessState>
    private let clock: @Sendable () -> UInt64

    /// Opens a witness folder. `clock` gives the POSIX time a cosignature states (the system's by default).
    public init(dir: String, clock: @escaping @Sendable () -> UInt64 = { UInt64(Date().timeIntervalSince1970) }) throws {
        let loaded = try WitnessState.load(dir: dir)
        _ = try loaded.witnessedLogs()  // every vkey reads
        self.dir = dir
        name = loaded.name
        key = try TrialKey.load(path: WitnessState.keyFile(dir))
        // A state file edited by hand may name the witness in a way no note allows: refused here, not when signing.
        cosignerKey = try CosignerKey(name: loaded.name, publicKey: key.publicKey)
        state = NIOLockedValueBox(loaded)
        self.clock = clock
    }

    /// The witness's cosigner key.
    public let cosignerKey: CosignerKey

    /// The reply to an `add-checkpoint` request: HTTP status, content type and body.
    public struct Reply: Sendable, Equatable {
        public let status: Int
        public let contentType: String
        public let body: String

        public init(status: Int, contentType: String, body: String) { (self.status, self.contentType, self.body) = (status, contentType, body) }
    }

    /// Decides `body`, and for a checkpoint it cosigns, records it durably before answering with the cosignature line.
    public func addCheckpoint(_ body: String) -> Reply {
        state.withLockedValue { current in
            let logs: [WitnessRules.Log]
            do { logs = try current.witnessedLogs() } catch { return Reply(status: 500, contentType: "text/plain", body: "the witness's state is unreadable\n") }
            let outcome = WitnessRules.decide(body, logs: logs, latest: current.cosigned)
            switch outcome {
            case .cosign(let checkpoint, let text):
                var next = current
                next.latest[checkpoint.origin] = .init(size: checkpoint.size, root: Data(checkpoint.root).base64EncodedString())
                do {
                    let line = try Cosignature.line(checkpointText: text, timestamp: clock(), name: name, key: key)
                    if next != current { try next.save(dir: dir) }
                    current = next
                    return Reply(status: 200, contentType: "text/plain; charset=utf-8", body: line)
                } catch {
                    return Reply(status: 500, contentType: "text/plain", body: "the witness could not record the checkpoint\n")
                }
            case .conflict(let size):
                return Reply(status: 409, contentType: "text/x.tlog.size", body: "\(size)\n")
            case .badRequest(let why), .forbidden(let why), .unknownOrigin(let why), .inconsistent(let why):
                return Reply(status: outcome.status, contentType: "text/plain; charset=utf-8", body: why + "\n")
            }
        }
    }

    /// The latest cosigned checkpoint of each log.
    public var latest: [String: WitnessState.Latest] { state.withLockedValue { $0.latest } }

    /// Creates a witness folder: a new key (mode 0600) and an empty state.
    public static func initialise(dir: String, name: String) throws -> CosignerKey {
        let key = TrialKey.generate()
        let cosigner = try CosignerKey(name: name, publicKey: key.publicKey)
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        guard !FileManager.default.fileExists(atPath: WitnessState.stateFile(dir)) else {
            throw TrialGateError(.alreadyInitialised, "\(dir) already holds a witness")
        }
        try key.write(to: WitnessState.keyFile(dir))
        try WitnessState(name: name).save(dir: dir)
        return cosigner
    }

    /// Adds a log to a witness folder's state (the witness must not be serving).
    public static func addLog(dir: String, vkey: String) throws -> String {
        let key = try NoteVerifierKey(vkey: vkey)
        let lock = try WitnessState.FolderLock(dir: dir, purpose: "add a log")
        defer { withExtendedLifetime(lock) {} }
        var state = try WitnessState.load(dir: dir)
        if let i = state.logs.firstIndex(where: { $0.origin == key.name }) {
            guard !state.logs[i].vkeys.contains(key.vkey) else { throw TrialGateError(.alreadyPublished, "\(key.name) is already witnessed with this key") }
            state.logs[i].vkeys.append(key.vkey)
        } else {
            state.logs.append(.init(origin: key.name, vkeys: [key.vkey]))
        }
        try state.save(dir: dir)
        return key.name
    }
}
