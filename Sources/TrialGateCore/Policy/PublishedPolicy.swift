/// A policy as published in the log: the log, not a file on disk, says which rules were in force.
public struct PublishedPolicy: Sendable, Equatable {
    public let seq: Int64
    /// When it was published: it is in force from then until the next publication.
    public let publishedAt: UTCTimestamp
    public let id: String
    public let version: String
    public let sha256: String
    public let text: String

    public init(seq: Int64, publishedAt: UTCTimestamp, id: String, version: String, sha256: String, text: String) {
        (self.seq, self.publishedAt, self.id, self.version, self.sha256, self.text) = (seq, publishedAt, id, version, sha256, text)
    }

    /// The publication without the policy's text: what a view that names policies, and does not evaluate them, keeps.
    public var withoutText: PublishedPolicy {
        PublishedPolicy(seq: seq, publishedAt: publishedAt, id: id, version: version, sha256: sha256, text: "")
    }
}
