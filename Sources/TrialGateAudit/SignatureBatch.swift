import Dispatch
import Foundation

/// Checks Ed25519 signatures in batches on a concurrent queue, so that a log audit uses every core while
/// one thread folds the events in order.
public final class SignatureBatch: @unchecked Sendable {
    private struct Item {
        let seq: Int64
        let signature: [UInt8]
        let message: [UInt8]
        let publicKey: [UInt8]
    }

    private var pending: [Item] = []
    private let queue = DispatchQueue(label: "trialgate.signatures", attributes: .concurrent)
    private let group = DispatchGroup()
    private let lock = NSLock()
    private var failed: [Int64] = []
    private static let batchSize = 256

    public init() {}

    /// Queues one check; batches start on other threads as they fill.
    public func add(seq: Int64, signature: [UInt8], message: [UInt8], publicKey: [UInt8]) {
        pending.append(Item(seq: seq, signature: signature, message: message, publicKey: publicKey))
        if pending.count >= Self.batchSize { flush() }
    }

    private func flush() {
        guard !pending.isEmpty else { return }
        let batch = pending
        pending = []
        group.enter()
        queue.async { [self] in
            let bad = batch.filter { !SignatureCheck.verify(signature: $0.signature, message: $0.message, publicKey: $0.publicKey) }.map(\.seq)
            if !bad.isEmpty {
                lock.lock()
                failed += bad
                lock.unlock()
            }
            group.leave()
        }
    }

    /// Waits for every batch and returns the sequence numbers whose signature failed, in order.
    public func finish() -> [Int64] {
        flush()
        group.wait()
        lock.lock()
        defer { lock.unlock() }
        return failed.sorted()
    }
}
