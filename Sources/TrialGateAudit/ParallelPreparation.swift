import Dispatch

/// Prepares the items of a chunk on worker threads while the caller does other work (folds the chunk before),
/// then hands them over in order: the one engine behind the store's audit and fold (`AuditChunk`) and the bundle
/// verifier. Parsing, hashing and checking a row do not depend on other rows; the fold that follows does, so it stays
/// on one thread.
///
/// Worker `w` prepares items `w`, `w + workers`, … into slots of its own, allocated once, so workers never write the
/// same memory; the caller reads the slots only after `wait()` has seen every worker finish.
public final class ParallelPreparation<Item: Sendable>: @unchecked Sendable {
    private let count: Int
    private let workers: Int
    private let prepare: @Sendable (Int) -> Item
    private let slots: UnsafeMutableBufferPointer<Item?>
    private let group = DispatchGroup()
    private var started = false

    /// - Parameters:
    ///   - count: how many items.
    ///   - workers: threads to prepare on; 1 or fewer prepares on the thread that calls `wait()`.
    ///   - prepare: the item at an index; called once per index, on any thread.
    public init(count: Int, workers: Int, prepare: @escaping @Sendable (Int) -> Item) {
        self.count = count
        self.workers = max(1, min(workers, count))
        self.prepare = prepare
        slots = .allocate(capacity: count)
        slots.initialize(repeating: nil)
    }

    deinit {
        if started { group.wait() }
        slots.deinitialize()
        slots.deallocate()
    }

    /// Starts the workers and returns at once (nothing to start with one worker).
    public func start() {
        guard workers > 1, !started else { return }
        started = true
        for w in 0..<workers {
            group.enter()
            DispatchQueue.global().async { [self] in
                var i = w
                while i < count {
                    slots[i] = prepare(i)
                    i += workers
                }
                group.leave()
            }
        }
    }

    /// The items, in order, once prepared.
    public func wait() -> [Item] {
        if started {
            group.wait()
            return slots.map { $0! }
        }
        return (0..<count).map(prepare)
    }
}
