import Logging
import NIOConcurrencyHelpers
import TrialGateCore
import TrialGateService

/// Keeps reports fast on a busy server: once the log has grown by `interval` events since the newest report
/// snapshot, one reader thread saves a new one (folded on from the last, so it costs the events since then).
/// At most one is in progress; a failure is logged and retried after another `interval` events.
final class ReportSnapshotter: @unchecked Sendable {
    private let interval: Int64
    private let logger: Logger
    private let lock = NIOLock()
    private var covered: Int64
    private var running = false
    /// Set once the workers exist (they call back into `committed`).
    var workers: Workers?

    /// The server itself, as the actor of its own snapshots; a snapshot appends no event.
    static let principal = Principal(name: "trialgate-server", role: .admin, sites: [])

    /// - Parameters:
    ///   - interval: events between snapshots; 0 never saves one.
    ///   - covered: the size of the newest snapshot in the store when the server starts.
    init(interval: Int64, covered: Int64, logger: Logger) {
        self.interval = interval
        self.covered = covered
        self.logger = logger
    }

    /// Called after each commit with the new log size.
    func committed(size: Int64) {
        let due = lock.withLock { () -> Bool in
            guard interval > 0, !running, size - covered >= interval else { return false }
            running = true
            return true
        }
        guard due, let workers else { return }
        workers.reads.submit(.reportSnapshot, as: Self.principal) { [self] result in
            let saved: Int64
            switch result {
            case .success(let reply):
                saved = Int64(reply["size"]?.intValue ?? Int(size))
                logger.info("report snapshot saved", metadata: [
                    "size": "\(saved)", "bytes": "\(reply["bytes"]?.intValue ?? 0)",
                    "folded_from": "\(reply["folded_from"]?.intValue.map(String.init) ?? "the first event")",
                ])
            case .failure(let error):
                saved = size
                logger.warning("report snapshot failed; retrying after \(interval) more events", metadata: ["error": "\(error)"])
            }
            lock.withLock {
                covered = max(covered, saved)
                running = false
            }
        }
    }
}
