import Foundation
import Logging
import TrialGateStore
#if canImport(Glibc)
import Glibc
#endif

/// Keeps SQLite's WAL checkpoints off the path of the writes.
///
/// SQLite checkpoints inside the commit that crosses its mark: the writer then copies up to 10,000 pages into the
/// database file and syncs it, while the callers of its batch and every command queued behind it wait (50–130 ms
/// for a batch of decisions, whose pages are all new). Here a thread of its own, on its own connection, copies the WAL
/// into the database file a `step` of frames at a time while the writer goes on: a passive checkpoint takes no lock
/// a commit needs. The WAL starts over from its beginning only at a transaction that finds every frame in it copied,
/// which steps racing the writer seldom leave; so once the WAL holds `limit` frames, the writer copies what the steps
/// have not yet copied (the frames since the thread's newest step), after its batch is answered, and its next
/// transaction starts the WAL over. The WAL stays as large as before (`limit` frames), each page changed by many
/// commits is still copied once per step, and no commit waits for more than that remainder.
final class WALCheckpointer: @unchecked Sendable {
    struct Settings: Sendable {
        /// Frames the thread copies at a time (at least: it copies every frame committed when it starts).
        var step = 2_000
        /// Frames at which the writer copies the rest itself, so that the WAL starts over: the WAL's size as SQLite
        /// would checkpoint it.
        var limit = EventStore.walCheckpointPages
    }

    /// Who copied how much, for tests and figures.
    struct Counts: Sendable, Equatable {
        var threadCheckpoints = 0
        var threadFrames = 0
        var writerCheckpoints = 0
        var writerFrames = 0
    }

    /// How much lower the thread's priority is than the rest of the server (`nice` steps).
    static let niceness: Int32 = 10

    let settings: Settings
    private let logger: Logger
    private let condition = NSCondition()
    private var due = false
    private var stopping = false
    /// Frames of the WAL already in the database file, as the newest checkpoint left it.
    private var copied = 0
    private var counts = Counts()
    private let finished = DispatchGroup()

    /// - Parameter openStore: opens the thread's own connection (called on the thread).
    init(settings: Settings, logger: Logger, openStore: @escaping @Sendable () throws -> EventStore) {
        self.settings = settings
        self.logger = logger
        finished.enter()
        let thread = Thread { [self] in
            defer { finished.leave() }
            Thread.nameCurrent("tg-wal")
            #if canImport(Glibc)
            // Below the writer, readers and event loops (a nice value belongs to the thread on Linux): a step may take
            // its time, up to `limit` frames, and the writer copies what is left. Not SCHED_IDLE: on a saturated machine
            // the steps would never run, and the writer would copy everything again, as SQLite did.
            _ = setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, Self.niceness)
            #endif
            let store: EventStore
            do { store = try openStore() } catch {
                // The writer's own copying (at `limit`) keeps the WAL bounded without the thread.
                logger.error("WAL checkpoints stay on the writer: cannot open the store", metadata: ["error": .untrusted(error)])
                return
            }
            defer { store.close() }
            while wait() {
                do {
                    let r = try store.checkpointWAL()
                    condition.withLock {
                        if !r.busy {
                            counts.threadCheckpoints += 1
                            counts.threadFrames += max(0, r.copied - (r.walFrames >= copied ? copied : 0))
                            copied = r.copied
                        }
                    }
                } catch {
                    logger.warning("WAL checkpoint failed; the writer's own copying takes over", metadata: ["error": .untrusted(error)])
                }
            }
        }
        thread.start()
    }

    /// Blocks until a step is due; false once stopped.
    private func wait() -> Bool {
        condition.withLock {
            while !due && !stopping { condition.wait() }
            due = false
            return !stopping
        }
    }

    /// Called on the writer thread, outside any transaction, after a batch committed and was answered.
    /// - Parameter store: the writer's connection, with `deferWALCheckpoints()` on.
    func committed(_ store: EventStore) {
        let frames = store.walFrames
        guard frames >= 0 else { return }
        if frames >= settings.limit {
            // The rest since the thread's newest step; busy (and tried again after the next batch) while a step runs.
            let before = condition.withLock { copied }
            do {
                let r = try store.checkpointWAL()
                if !r.busy {
                    condition.withLock {
                        counts.writerCheckpoints += 1
                        counts.writerFrames += max(0, r.copied - (r.walFrames >= before ? before : 0))
                        copied = r.copied
                    }
                }
            } catch {
                logger.warning("WAL checkpoint failed on the writer", metadata: ["error": .untrusted(error)])
            }
            return
        }
        condition.withLock {
            // After the WAL started over, its frames count from 0 again.
            if copied > frames { copied = 0 }
            if frames - copied >= settings.step, !due {
                due = true
                condition.signal()
            }
        }
    }

    var copiedSoFar: Counts { condition.withLock { counts } }

    /// Lets a step in progress finish, then stops the thread and closes its connection.
    func stop() async {
        condition.withLock {
            stopping = true
            condition.broadcast()
        }
        await finished.done()
    }
}
