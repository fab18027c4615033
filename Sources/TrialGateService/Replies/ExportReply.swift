import TrialGateCore

/// `export`: one page of events exactly as stored (their bytes, which may no longer hash to their hash: an auditor
/// wants to see them, and the reply says so), and where the next page starts (null on the last).
public struct ExportReply: ReplyView, Equatable {
    /// Each event as stored: the log's own document, carried as it is.
    public var events: [JSONValue]
    public var nextFrom: Int64?
    @OmittedWhenNil public var logWarning: String? = nil

    enum CodingKeys: String, CodingKey { case events, nextFrom = "next_from", logWarning = "log_warning" }
}
