import NIOCore

/// A task executor that runs jobs on one event loop, so that a connection's task runs on the thread that owns its
/// channel: the bytes it awaits, the replies it writes and the answers the workers hand back each reach it without
/// passing through another thread. (SwiftNIO 2.101's event loops are serial executors for actors, not task executors.)
/// A job run here must not block: the task awaits SQLite work on the worker threads, never runs it.
final class EventLoopExecutor: TaskExecutor {
    let loop: any EventLoop

    init(_ loop: any EventLoop) { self.loop = loop }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        loop.execute { job.runSynchronously(on: self.asUnownedTaskExecutor()) }
    }
}
