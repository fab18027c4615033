import Dispatch
import Foundation

/// Work queued one item at a time and done in batches on a concurrent queue, so that a log audit uses every core
/// while one thread folds the events in order: `add` from the folding thread, `finish` once for every output.
final class ConcurrentBatches<Item: Sendable, Output: Sendable>: @unchecked Sendable {
    private var pending: [Item] = []
    private let batchSize: Int
    private let work: @Sendable ([Item]) -> [Output]
    private let queue: DispatchQueue
    private let group = DispatchGroup()
    private let lock = NSLock()
    private var outputs: [Output] = []

    /// - Parameter work: a batch's outputs; runs on any thread.
    init(label: String, batchSize: Int, work: @escaping @Sendable ([Item]) -> [Output]) {
        self.batchSize = batchSize
        self.work = work
        queue = DispatchQueue(label: label, attributes: .concurrent)
    }

    /// Queues one item; a batch starts on another thread as it fills.
    func add(_ item: Item) {
        pending.append(item)
        if pending.count >= batchSize { flush() }
    }

    private func flush() {
        guard !pending.isEmpty else { return }
        let batch = pending
        pending = []
        group.enter()
        queue.async { [self] in
            let done = work(batch)
            if !done.isEmpty {
                lock.lock()
                outputs += done
                lock.unlock()
            }
            group.leave()
        }
    }

    /// Waits for every batch and returns their outputs, in no particular order.
    func finish() -> [Output] {
        flush()
        group.wait()
        lock.lock()
        defer { lock.unlock() }
        return outputs
    }
}

/// Checks Ed25519 signatures in batches on a concurrent queue (`ConcurrentBatches`).
public final class SignatureBatch: @unchecked Sendable {
    private struct Item: Sendable {
        let seq: Int64
        let signature: [UInt8]
        let message: [UInt8]
        let publicKey: [UInt8]
    }

    private let batches = ConcurrentBatches<Item, Int64>(label: "trialgate.signatures", batchSize: 256) { batch in
        batch.filter { !SignatureCheck.verify(signature: $0.signature, message: $0.message, publicKey: $0.publicKey) }.map(\.seq)
    }

    public init() {}

    /// Queues one check; batches start on other threads as they fill.
    public func add(seq: Int64, signature: [UInt8], message: [UInt8], publicKey: [UInt8]) {
        batches.add(Item(seq: seq, signature: signature, message: message, publicKey: publicKey))
    }

    /// Waits for every batch and returns the sequence numbers whose signature failed, in order.
    public func finish() -> [Int64] { batches.finish().sorted() }
}
