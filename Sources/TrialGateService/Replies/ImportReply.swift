import TrialGateCore

/// `import`: what a file held and every problem found in it, by row and column; after a real import with no
/// problems, the events its rows became and the `records.imported` event that records the file.
public struct ImportReply: ReplyView, Equatable {
    /// The file's name as given, and the SHA-256 of its bytes.
    public var file: String
    public var sha256: String
    /// Only checked (`--dry-run`): nothing was written, whatever the problems.
    public var dryRun: Bool
    /// The data rows (blank lines left out) and how many of each kind.
    public var rows: Int
    public var kinds: [String: Int]
    /// Every problem, by row (the header is row 1) and column; empty when the file can be imported.
    public var problems: [ImportProblem]
    /// Whether the rows were written (a real import without problems).
    public var written: Bool
    /// The events the rows became, `first_seq` … `last_seq` (review queries they opened among them), and the
    /// `records.imported` event after them; null when nothing was written.
    public var firstSeq: Int64?
    public var lastSeq: Int64?
    public var seq: Int64?
    public var hash: String?

    enum CodingKeys: String, CodingKey {
        case file, sha256, dryRun = "dry_run", rows, kinds, problems, written, firstSeq = "first_seq", lastSeq = "last_seq", seq, hash
    }
}
