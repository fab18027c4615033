/// A node's claim to write a trial that several `trialgate serve` nodes serve from one PostgreSQL database.
///
/// The lease is a row in the trial's schema, taken or renewed in each write transaction under the trial's write lock,
/// with the database's clock; a node whose lease lapsed and was taken by another gets `not_leader` on its next write,
/// naming the holder. The lease bounds how long a silent leader keeps the others out, not whether two nodes can
/// write at once: that the write lock and the lease check in the same transaction already exclude.
public struct WriterLease: Sendable, Equatable {
    /// This node's name, unique among the trial's nodes.
    public let node: String
    /// Where clients reach this node (host:port), told to clients another node refuses.
    public let address: String
    /// How long the lease lasts after each write, in milliseconds.
    public let milliseconds: Int

    public init(node: String, address: String, milliseconds: Int) {
        self.node = node
        self.address = address
        self.milliseconds = milliseconds
    }
}
