import Dispatch
import Foundation
import Logging
import TrialGateAudit
import TrialGateCore
import TrialGateService
import TrialGateStore

/// Keeps the log's witnesses cosigning behind its writes (C2SP tlog-witness, the log's side).
///
/// One thread per witness, each with its own store connection: after a commit the thread is woken, and when the
/// log's newest checkpoint is beyond what its witness last cosigned it submits that checkpoint (`WitnessSubmission`),
/// at most once per `interval`; a quiet log resubmits its newest checkpoint every `refresh` so that the witnesses'
/// cosignatures stay recent (a copy rolled back to an older cosigned checkpoint cannot get new ones, and
/// `verify --max-age` tells). A witness that fails or refuses is retried with exponential backoff (and jitter) up to
/// `maximumBackoff`. Nothing here is on a write's path: a commit only raises a number and signals a condition, so a
/// witness that is down or slow delays no write; the lag shows in `trialgate witness status` and in the server's log.
public final class WitnessCosigners: @unchecked Sendable {
    public struct Settings: Sendable {
        /// The shortest time between two submissions to one witness, in seconds.
        public var interval: Double = 1
        /// The longest wait before retrying a witness that failed, in seconds.
        public var maximumBackoff: Double = 60
        /// How long one submission may take, in seconds.
        public var timeout: Double = 10
        /// How long a quiet log waits before resubmitting its newest checkpoint, so that its witnesses cosign it again
        /// with a newer time (what `verify --max-age` asks for), in seconds.
        public var refresh: Double = 3600

        public init() {}
    }

    /// Sends a body to a witness and answers its status and body (`trialgate serve` gives `WitnessClient`'s HTTP).
    public typealias Transport = @Sendable (WitnessTarget, String) throws -> (status: Int, body: String)

    private let workers: [Worker]

    /// Starts one thread per target. `openStore` opens the thread's own connection to the log's store.
    public init(targets: [WitnessTarget], settings: Settings = .init(), logger: Logger, openStore: @escaping @Sendable () throws -> EventStore,
                transport: @escaping Transport) {
        workers = targets.map { Worker(target: $0, settings: settings, logger: logger, openStore: openStore, transport: transport) }
        workers.forEach { $0.start() }
    }

    /// Called after each commit with the new log size: wakes the witnesses' threads, never waits for them.
    public func committed(size: Int64) { workers.forEach { $0.committed(size: size) } }

    /// Where each witness stands, as its thread last saw it.
    public var status: [WitnessProgress] { workers.map(\.progress) }

    /// Stops the threads, waiting at most `seconds` for a submission in progress.
    public func stop(waitingAtMost seconds: Double) {
        workers.forEach { $0.stop() }
        let deadline = DispatchTime.now() + seconds
        for w in workers { _ = w.finished.wait(timeout: deadline) }
    }
}

/// One witness's progress, as its thread last saw it.
public struct WitnessProgress: Sendable, Equatable {
    public var witness: String
    /// The newest checkpoint size it cosigned.
    public var cosigned: Int64
    /// The newest log size committed.
    public var committed: Int64
    /// Failed submissions in a row (0 after a cosignature).
    public var failures: Int
    /// The last failure's message, until a cosignature.
    public var lastError: String?
}

private final class Worker: @unchecked Sendable {
    let target: WitnessTarget
    let settings: WitnessCosigners.Settings
    let logger: Logger
    let openStore: @Sendable () throws -> EventStore
    let transport: WitnessCosigners.Transport
    let finished = DispatchGroup()

    private let condition = NSCondition()
    private var state: WitnessProgress
    private var nextAttempt = Date.distantPast
    /// The committed size the witness is known to be up to date with (or refused at, until the backoff ends).
    private var handled: Int64 = 0
    /// When the newest checkpoint is next resubmitted if the log stays quiet.
    private var refreshDue = Date.distantFuture
    private var stopping = false

    init(target: WitnessTarget, settings: WitnessCosigners.Settings, logger: Logger, openStore: @escaping @Sendable () throws -> EventStore,
         transport: @escaping WitnessCosigners.Transport) {
        (self.target, self.settings, self.logger, self.openStore, self.transport) = (target, settings, logger, openStore, transport)
        state = WitnessProgress(witness: target.key.name, cosigned: 0, committed: 0, failures: 0, lastError: nil)
    }

    var progress: WitnessProgress { condition.withLock { state } }

    func committed(size: Int64) {
        condition.withLock {
            guard size > state.committed else { return }
            state.committed = size
            condition.signal()
        }
    }

    func stop() {
        condition.withLock {
            stopping = true
            condition.signal()
        }
    }

    func start() {
        finished.enter()
        let thread = Thread { [self] in
            defer { finished.leave() }
            Thread.nameCurrent("tg-witness")
            run()
        }
        thread.start()
    }

    private func run() {
        let store: EventStore
        do {
            store = try openStore()
            let cosigned = try store.cosignedSizes()[target.key.name] ?? 0
            let newest = try store.latestCheckpoint()?.size ?? 0
            condition.withLock {
                state.cosigned = cosigned
                state.committed = max(state.committed, newest)
                refreshDue = Date().addingTimeInterval(settings.refresh)
            }
        } catch {
            logger.error("witness cosigning is off: cannot open the store", metadata: ["witness": .untrusted(target.key.name), "error": .untrusted(error)])
            return
        }
        defer { store.close() }
        while let (upTo, refreshing) = waitForWork() {
            do {
                // The checkpoint covering the commits seen so far; nothing to do when the witness already cosigned it,
                // unless it is time to have it cosigned again.
                let newest = try store.latestCheckpoint()?.size ?? 0
                if newest <= progress.cosigned, !refreshing {
                    condition.withLock { handled = max(handled, upTo) }
                    continue
                }
                let outcome = try WitnessSubmission.submit(store: store, key: target.key, transport: { try self.transport(self.target, $0) },
                                                           now: SystemClock().now())
                let recovered = condition.withLock { () -> Bool in
                    let wasFailing = state.failures > 0
                    state.cosigned = max(state.cosigned, outcome.size)
                    (state.failures, state.lastError) = (0, nil)
                    if outcome.size >= newest { handled = max(handled, upTo) }
                    nextAttempt = Date().addingTimeInterval(settings.interval)
                    refreshDue = Date().addingTimeInterval(settings.refresh)
                    return wasFailing
                }
                if recovered { logger.info("witness cosigning again", metadata: ["witness": .untrusted(target.key.name), "size": "\(outcome.size)"]) }
            } catch {
                let failure = TrialGateError(error)
                let (failures, lag) = condition.withLock { () -> (Int, Int64) in
                    state.failures += 1
                    state.lastError = "\(failure.code.rawValue): \(failure.message)"
                    // 1, 2, 4 … times the interval, at most the maximum, ± 20 % so that retries of several logs spread out.
                    let backoff = min(settings.maximumBackoff, settings.interval * pow(2, Double(min(state.failures - 1, 30))))
                    nextAttempt = Date().addingTimeInterval(backoff * Double.random(in: 0.8...1.2))
                    return (state.failures, state.committed - state.cosigned)
                }
                logger.warning("witness did not cosign", metadata: [
                    "witness": .untrusted(target.key.name), "code": "\(failure.code.rawValue)", "error": .untrusted(failure.message),
                    "failures_in_a_row": "\(failures)", "lag_events": "\(lag)",
                ])
            }
        }
    }

    /// Waits until the log has grown past what was last handled and the next attempt is due, or a resubmission is due,
    /// and answers the size committed then and whether it is a resubmission; nil when stopping.
    private func waitForWork() -> (Int64, Bool)? {
        condition.withLock {
            while !stopping {
                let now = Date()
                if state.committed > handled {
                    if now >= nextAttempt { return (state.committed, false) }
                    _ = condition.wait(until: nextAttempt)
                } else if state.committed > 0 {
                    if now >= refreshDue, now >= nextAttempt { return (state.committed, true) }
                    _ = condition.wait(until: max(refreshDue, nextAttempt))
                } else {
                    condition.wait()
                }
            }
            return nil
        }
    }
}

private extension NSCondition {
    func withLock<T>(_ body: () throws -> T) rethrows -> T {
        lock()
        defer { unlock() }
        return try body()
    }
}
