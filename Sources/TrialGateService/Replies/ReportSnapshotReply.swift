import TrialGateCore

/// `report.snapshot`: the snapshot saved at the log's head (its size, head hash, candidates and bytes), the snapshot
/// it was folded on from (null: the first event), the statement signed and its signature, the sizes kept, and why
/// newer snapshots were ignored.
public struct ReportSnapshotReply: ReplyView, Equatable {
    public var size: Int64
    public var head: String
    public var candidates: Int
    public var bytes: Int
    public var foldedFrom: Int64?
    /// The signed statement, as the RFC 8785 text that was signed.
    public var statement: String
    public var signature: String
    public var kept: [Int64]
    public var ignored: [String]

    enum CodingKeys: String, CodingKey { case size, head, candidates, bytes, statement, signature, kept, ignored, foldedFrom = "folded_from" }
}
