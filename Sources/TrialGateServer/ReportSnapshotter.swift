import Dispatch
import Foundation
import Logging
import NIOConcurrencyHelpers
import TrialGateCore
import TrialGateService
#if canImport(Glibc)
import Glibc
#endif

/// Keeps reports fast on a busy server: once the log has grown by `interval` events since the newest report
/// snapshot, a thread of its own saves a new one (folded on from the last, so it costs the events since then).
/// The thread runs at a lower CPU priority than the writer, readers and event loops, so a snapshot takes the
/// cores they leave. At most one is in progress; a failure is logged and retried after another `interval` events.
final class ReportSnapshotter: @unchecked Sendable {
    private let interval: Int64
    private let logger: Logger
    private let lock = NIOLock()
    private var covered: Int64
    private var running = false
    private let jobs = CommandQueue()
    private let finished = DispatchGroup()

    /// The server itself, as the actor of its own snapshots; a snapshot appends no event.
    static let principal = Principal(name: "trialgate-server", role: .admin, sites: [])
    /// Linux's `SCHED_IDLE` policy (`linux/sched.h`), which Glibc's Swift module does not export.
    static let schedIdle: Int32 = 5
    /// How much lower the thread's priority is than the rest of the server (`nice` steps), where `SCHED_IDLE` is refused.
    static let niceness: Int32 = 10

    /// - Parameters:
    ///   - interval: events between snapshots; 0 never saves one (and starts no thread).
    ///   - covered: the size of the newest snapshot in the store when the server starts.
    ///   - makeDispatcher: opens the thread's own dispatcher and store connection (called on the thread).
    init(interval: Int64, covered: Int64, logger: Logger, makeDispatcher: @escaping @Sendable () throws -> Dispatcher) {
        self.interval = interval
        self.covered = covered
        self.logger = logger
        guard interval > 0 else { return }
        finished.enter()
        let thread = Thread { [jobs, finished, logger] in
            defer { finished.leave() }
            Thread.nameCurrent("tg-snapshots")
            #if canImport(Glibc)
            // SCHED_IDLE: the thread runs only on a core nobody else wants, and gives it up at once when the writer,
            // a reader or an event loop wakes. Any thread may lower itself to it. Where it is refused, a nice value
            // (on Linux it belongs to the thread, and `who` 0 is the calling thread).
            var param = sched_param()
            if pthread_setschedparam(pthread_self(), Self.schedIdle, &param) != 0 {
                _ = setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, Self.niceness)
            }
            #endif
            let dispatcher: Dispatcher
            do { dispatcher = try makeDispatcher() } catch {
                logger.error("report snapshots are off: cannot open the store", metadata: ["error": .untrusted(error)])
                while let batch = jobs.take(max: 1) { batch.forEach { $0.done(.failure(TrialGateError(error))) } }
                return
            }
            // Every step of a snapshot stays on this thread, at its priority.
            dispatcher.parallelFolds = false
            jobs.serve(with: dispatcher)
        }
        thread.start()
    }

    /// Called after each commit with the new log size.
    func committed(size: Int64) {
        let due = lock.withLock { () -> Bool in
            guard interval > 0, !running, size - covered >= interval else { return false }
            running = true
            return true
        }
        guard due else { return }
        jobs.submit(.reportSnapshot, as: Self.principal) { [self] result in
            let saved: Int64
            switch result {
            case .success(let answer):
                // This queue is served unencoded (`serve(with:)` without `encoding`).
                let reply: JSONValue
                if case .value(let value) = answer { reply = value } else { reply = [:] }
                saved = Int64(reply["size"]?.intValue ?? Int(size))
                logger.info("report snapshot saved", metadata: [
                    "size": "\(saved)", "bytes": "\(reply["bytes"]?.intValue ?? 0)",
                    "folded_from": "\(reply["folded_from"]?.intValue.map(String.init) ?? "the first event")",
                ])
            case .failure(let error):
                saved = size
                logger.warning("report snapshot failed; retrying after \(interval) more events", metadata: ["error": .untrusted(error)])
            }
            lock.withLock {
                covered = max(covered, saved)
                running = false
            }
        }
    }

    /// Lets a snapshot in progress finish (it is one transaction either way), then stops the thread.
    func stop() async {
        jobs.stop()
        await finished.done()
    }
}
