import Foundation
import Logging
import NIOCore
import TrialGateCore
import TrialGateService
import TrialGateStore

/// A worker's answer to one command: its result, or the result already in canonical JSON (RFC 8785).
enum Answer: Sendable {
    case value(JSONValue)
    case encoded([UInt8])
}

/// A queue of commands waiting for a worker thread; callers await their own result.
final class CommandQueue: @unchecked Sendable {
    struct Job: Sendable {
        let command: Command
        let principal: Principal
        /// The event loop `done` runs on; nil runs it on the worker thread.
        let loop: EventLoop?
        let done: @Sendable (Result<Answer, TrialGateError>) -> Void
    }

    private let condition = NSCondition()
    private var jobs: [Job] = []
    private var stopping = false

    /// Queues a command; `done` is called with its result on `loop`, or on the worker thread when `loop` is nil.
    func submit(_ command: Command, as principal: Principal, on loop: EventLoop? = nil,
                done: @escaping @Sendable (Result<Answer, TrialGateError>) -> Void) {
        condition.lock()
        if stopping {
            condition.unlock()
            Self.deliver([Job(command: command, principal: principal, loop: loop, done: done)],
                         [.failure(TrialGateError(.shuttingDown, "the server is shutting down; nothing was done"))])
            return
        }
        jobs.append(Job(command: command, principal: principal, loop: loop, done: done))
        condition.signal()
        condition.unlock()
    }

    /// Blocks until jobs are waiting and takes up to `max` of them; nil once stopped and empty.
    func take(max: Int) -> [Job]? {
        condition.lock()
        defer { condition.unlock() }
        while jobs.isEmpty && !stopping { condition.wait() }
        if jobs.isEmpty { return nil }
        let batch = Array(jobs.prefix(max))
        jobs.removeFirst(batch.count)
        return batch
    }

    /// Runs the jobs one at a time with `dispatcher` until the queue is stopped and empty, then closes its store.
    /// With `encoding`, results are answered encoded: the encoding is done here, off the event loops.
    func serve(with dispatcher: Dispatcher, encoding: Bool = false) {
        while let batch = take(max: 1) {
            for job in batch {
                Self.deliver([job], [Result {
                    encoding ? .encoded(try dispatcher.executeEncoded(job.command, principal: job.principal))
                        : .value(try dispatcher.execute(job.command, principal: job.principal))
                }.mapError { TrialGateError($0) }])
            }
        }
        dispatcher.store?.close()
    }

    /// Calls each job's `done` with its result: at once for jobs without a loop, and with one task per event loop
    /// for the others, in order, so a batch of a hundred answers wakes each loop once instead of a hundred times.
    static func deliver(_ jobs: [Job], _ results: [Result<Answer, TrialGateError>]) {
        typealias Answered = (done: @Sendable (Result<Answer, TrialGateError>) -> Void, result: Result<Answer, TrialGateError>)
        // A server has a handful of loops: a list is cheaper than a dictionary here.
        var groups: [(loop: EventLoop, answers: [Answered])] = []
        for (job, result) in zip(jobs, results) {
            guard let loop = job.loop else { job.done(result); continue }
            if let i = groups.firstIndex(where: { $0.loop === loop }) {
                groups[i].answers.append((job.done, result))
            } else {
                groups.append((loop, [(job.done, result)]))
            }
        }
        for (loop, answers) in groups {
            loop.execute { for a in answers { a.done(a.result) } }
        }
    }

    /// Refuses new jobs; workers finish the queued ones and then stop.
    func stop() {
        condition.lock()
        stopping = true
        condition.broadcast()
        condition.unlock()
    }
}

/// Threads that own dispatchers: one writer, which commits whatever is queued as one batch (group commit),
/// and readers, which answer read commands on their own SQLite connections.
final class Workers: @unchecked Sendable {
    let writes = CommandQueue()
    let reads = CommandQueue()
    /// Copies the WAL into the database file beside the writer (nil: SQLite does, inside commits).
    let walCheckpointer: WALCheckpointer?
    private var threads: [Thread] = []
    private let finished = DispatchGroup()

    /// - Parameters:
    ///   - makeDispatcher: opens a dispatcher on its own store connection (called once per thread, on it).
    ///   - onCommit: called on the writer thread after each batch that committed, with the new log size.
    ///   - walCheckpoints: how WAL checkpoints are kept off the writes' path (`WALCheckpointer`); nil leaves them to
    ///     SQLite, inside the commit that crosses its mark.
    init(readers: Int, maxBatch: Int, walCheckpoints: WALCheckpointer.Settings? = nil, logger: Logger = Logger(label: "trialgate.workers"),
         makeDispatcher: @escaping @Sendable () throws -> Dispatcher,
         onCommit: @escaping @Sendable (Int64) -> Void) throws {
        let writerDispatcher = try makeDispatcher()
        let readerDispatchers = try (0..<readers).map { _ in try makeDispatcher() }
        let checkpointer = walCheckpoints.map { settings in
            writerDispatcher.store?.deferWALCheckpoints()
            return WALCheckpointer(settings: settings, logger: logger) {
                guard let store = try makeDispatcher().store else { throw TrialGateError(.internal, "a dispatcher without a store") }
                return store
            }
        }
        walCheckpointer = checkpointer
        start(name: "tg-writer") { [writes] in
            while let batch = writes.take(max: maxBatch) {
                let results: [Result<Answer, TrialGateError>]
                do {
                    results = try writerDispatcher.executeBatch(batch.map { ($0.command, $0.principal) }).map { $0.map(Answer.value) }
                    if let size = writerDispatcher.store?.lastCommittedHead?.size { onCommit(size) }
                } catch {
                    // The shared commit failed: nothing of the batch was written, and every caller hears so.
                    results = Array(repeating: .failure(TrialGateError(error)), count: batch.count)
                }
                CommandQueue.deliver(batch, results)
                // After the answers: a checkpoint the writer must finish holds only the commands queued meanwhile.
                if let checkpointer, let store = writerDispatcher.store { checkpointer.committed(store) }
            }
            writerDispatcher.store?.close()
        }
        for (i, dispatcher) in readerDispatchers.enumerated() {
            start(name: "tg-reader-\(i)") { [reads] in reads.serve(with: dispatcher, encoding: true) }
        }
    }

    private func start(name: String, _ body: @escaping @Sendable () -> Void) {
        finished.enter()
        let thread = Thread { [finished] in
            Thread.nameCurrent(name)
            body()
            finished.leave()
        }
        threads.append(thread)
        thread.start()
    }

    /// Runs `command` on the writer if it appends, on a reader otherwise (which answers it encoded); `done` runs on
    /// `loop`.
    func run(_ command: Command, as principal: Principal, on loop: EventLoop,
             done: @escaping @Sendable (Result<Answer, TrialGateError>) -> Void) {
        (command.writes ? writes : reads).submit(command, as: principal, on: loop, done: done)
    }

    /// Finishes every queued job, then stops the threads and closes their stores.
    func stop() async {
        writes.stop()
        reads.stop()
        await finished.done()
        await walCheckpointer?.stop()
    }
}

extension Thread {
    /// Names the calling thread, for Foundation and for the operating system (`top -H`, `/proc/…/comm`, `perf`), which
    /// `Thread.name` alone does not reach on Linux. A thread may rename itself through `/proc/thread-self/comm`;
    /// Linux keeps 15 bytes.
    static func nameCurrent(_ name: String) {
        Thread.current.name = name
        #if os(Linux)
        try? String(decoding: name.utf8.prefix(15), as: UTF8.self).write(toFile: "/proc/thread-self/comm", atomically: false, encoding: .utf8)
        #endif
    }
}

extension DispatchGroup {
    /// Returns once everything entered has left, without blocking a thread of the cooperative pool.
    func done() async {
        await withCheckedContinuation { (resumed: CheckedContinuation<Void, Never>) in
            notify(queue: .global()) { resumed.resume() }
        }
    }
}
