import Foundation
import Logging
import NIOConcurrencyHelpers
import TrialGateCore
import TrialGateService
import TrialGateStore

/// Keeps the server's accounts in step with the log: every `interval` it asks the log for its newest account event
/// (one index lookup), folds the accounts again when it changed, and installs them; subscriptions of principals
/// no longer in force (disabled, removed, token rotated, expired) are closed then. Other sessions are refused on
/// their next request (`ServerState.allows`). Account changes may come from this server's writer or from the
/// command line on the same store, so the log is the one source.
final class AccountWatcher: @unchecked Sendable {
    private let store: EventStore
    /// Checks the head before accounts are taken from it: an account event beyond what a valid checkpoint covers
    /// (inserted outside TrialGate) is not honoured.
    private let reader: Dispatcher
    private let state: ServerState
    private let logger: Logger
    private let interval: TimeInterval
    /// The newest account event seen at the last fold (which may be beyond what was honoured).
    private var lastSeen: Int64 = -1
    /// Whether the last fold held account events back (the head was not covered): then every look folds again,
    /// so they are honoured as soon as the head is covered, and the warning is logged once.
    private var heldBack = false
    private let stopped = NIOLockedValueBox(false)
    private let done = DispatchSemaphore(value: 0)

    /// Folds the accounts once and installs them; throws if the log cannot be read.
    init(storePath: String, state: ServerState, coverage: CoverageMark, logger: Logger, interval: TimeInterval) throws {
        self.store = try EventStore.open(path: storePath)
        reader = Dispatcher(store: store, clock: SystemClock(), key: { throw TrialGateError(.internal, "the account watcher signs nothing") })
        reader.coverage = coverage
        self.state = state
        self.logger = logger
        self.interval = interval
        lastSeen = try store.newestSeq(types: EventType.accountEvents)
        state.install(try load(), now: SystemClock().now())
    }

    /// The accounts up to the newest covered event: all of them while the head is covered by a valid checkpoint,
    /// otherwise only those up to the head last found covered.
    private func load() throws -> UserDirectory {
        guard let warning = try reader.headWarning() else {
            heldBack = false
            return try UserDirectory.load(store: store)
        }
        if !heldBack {
            logger.warning("the log's head is not covered by a valid checkpoint; accounts beyond it are not honoured",
                           metadata: ["covered": "\(reader.coverage.size)", "problem": "\(warning.prefix(200))"])
        }
        heldBack = true
        return try UserDirectory.load(store: store, through: reader.coverage.size)
    }

    /// Starts the watching thread.
    func start() {
        let thread = Thread { [self] in
            Thread.nameCurrent("tg-accounts")
            while !stopped.withLockedValue({ $0 }) {
                Thread.sleep(forTimeInterval: interval)
                tick()
            }
            store.close()
            done.signal()
        }
        thread.start()
    }

    /// One look at the log: refold when an account event was added, then close what is no longer allowed, and note
    /// the log's size for the subscribers.
    func tick() {
        do {
            var users = state.users
            let newest = try store.newestSeq(types: EventType.accountEvents)
            // Compared with what was seen, not what was honoured, so an account event held back is folded (and
            // logged) once, not at every look.
            if newest != lastSeen || heldBack {
                users = try load()
                if newest != lastSeen { logger.notice("accounts changed", metadata: ["version": "\(users.version)"]) }
                lastSeen = newest
            }
            let closed = state.install(users, now: SystemClock().now())
            // What other processes appended (the command line; on PostgreSQL, the node that holds the writer lease)
            // reaches this server's subscribers too, within one look.
            state.committed(size: try store.head().size)
            if !closed.isEmpty { logger.notice("subscriptions of revoked principals closed", metadata: ["principals": "\(closed.count)"]) }
        } catch {
            logger.error("accounts cannot be read from the log", metadata: ["error": "\(TrialGateError(error).code)"])
        }
    }

    /// Stops the thread and waits for it.
    func stop() {
        stopped.withLockedValue { $0 = true }
        done.wait()
    }
}
