import Foundation
import TrialGateAudit
import TrialGateCore

/// What a witness keeps: its name, the logs it witnesses (origin and the vkeys their checkpoints are signed with), and
/// the latest checkpoint it cosigned for each. One JSON file beside the witness's key, written atomically (a new file,
/// fsynced, renamed over the old, the folder fsynced), never any trial's store.
public struct WitnessState: Codable, Sendable, Equatable {
    public static let format = "trialgate.witness/1"

    public struct LogEntry: Codable, Sendable, Equatable {
        public var origin: String
        public var vkeys: [String]
    }

    public struct Latest: Codable, Sendable, Equatable {
        public var size: Int64
        /// The root hash, base64.
        public var root: String
    }

    public var format: String
    public var name: String
    public var logs: [LogEntry]
    public var latest: [String: Latest]

    public init(name: String) {
        (format, self.name, logs, latest) = (Self.format, name, [], [:])
    }

    /// The logs as `WitnessRules` takes them.
    public func witnessedLogs() throws -> [WitnessRules.Log] {
        try logs.map { WitnessRules.Log(origin: $0.origin, keys: try $0.vkeys.map(NoteVerifierKey.init(vkey:))) }
    }

    /// The latest cosigned checkpoints as `WitnessRules` takes them (`load` refuses a state with a root that does not read).
    public var cosigned: [String: WitnessRules.Cosigned] {
        latest.mapValues { l in .init(size: l.size, root: Array(Data(base64Encoded: l.root) ?? Data())) }
    }

    /// The one process that may change a witness folder's state: `witness serve` holds this lock while it serves, and
    /// `witness add-log` takes it for its change, so neither writes over the other's state (an `add-log` beside a
    /// running witness would be lost at its next cosignature, or step its state back).
    public final class FolderLock: @unchecked Sendable {
        private let fd: Int32

        /// Takes the lock of `dir`, or throws naming who holds it.
        public init(dir: String, purpose: String) throws {
            let path = dir + "/witness.lock"
            fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
            guard fd >= 0 else { throw TrialGateError(.fileUnreadable, "cannot open \(path): errno \(errno)") }
            guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
                close(fd)
                throw TrialGateError(.alreadyInitialised, "\(dir) is in use by another trialgate witness process (a running `witness serve`?); stop it to \(purpose)")
            }
        }

        deinit { close(fd) }
    }

    /// The state file and the key file of a witness folder.
    public static func stateFile(_ dir: String) -> String { dir + "/witness.json" }
    public static func keyFile(_ dir: String) -> String { dir + "/witness.key" }

    /// Reads a witness folder's state.
    public static func load(dir: String) throws -> WitnessState {
        let path = stateFile(dir)
        guard let data = FileManager.default.contents(atPath: path) else {
            throw TrialGateError(.fileUnreadable, "no witness state at \(path) (run `trialgate witness init --dir \(dir) --name NAME`)")
        }
        do {
            let state = try JSONDecoder().decode(WitnessState.self, from: data)
            guard state.format == format else { throw TrialGateError(.fileUnreadable, "\(path) is not a \(format) state file") }
            // A checkpoint held must read whole: one dropped would make the witness take the log as never seen, and
            // cosign a rolled-back copy of it.
            for (origin, held) in state.latest.sorted(by: { $0.key < $1.key }) {
                guard held.size >= 0, let root = Data(base64Encoded: held.root), root.count == 32 else {
                    throw TrialGateError(.fileUnreadable, "\(path): the checkpoint held for \(origin) (size \(held.size), root \(held.root.prefix(60))) is not a size and a 32-byte base64 root; the witness will not start on it")
                }
            }
            return state
        } catch let e as TrialGateError { throw e } catch {
            throw TrialGateError(.fileUnreadable, "\(path) cannot be read: \(error)")
        }
    }

    /// Writes the state so that a crash leaves either the old file or the new one, durably.
    public func save(dir: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        let data = try encoder.encode(self)
        let path = Self.stateFile(dir), temporary = path + ".new.\(getpid())"
        guard FileManager.default.createFile(atPath: temporary, contents: data, attributes: [.posixPermissions: 0o600]) else {
            throw TrialGateError(.keyUnwritable, "cannot write \(temporary)")
        }
        try Self.fsync(temporary)
        guard rename(temporary, path) == 0 else { throw TrialGateError(.keyUnwritable, "cannot replace \(path): errno \(errno)") }
        try Self.fsync(dir)
    }

    private static func fsync(_ path: String) throws {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw TrialGateError(.keyUnwritable, "cannot open \(path) to sync it: errno \(errno)") }
        defer { close(fd) }
        guard Foundation.fsync(fd) == 0 else { throw TrialGateError(.keyUnwritable, "fsync of \(path) failed: errno \(errno)") }
    }
}
