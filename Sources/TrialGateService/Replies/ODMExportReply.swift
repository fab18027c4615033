import TrialGateCore

/// `export.odm`: one page of the ODM 1.3.2 document, of the candidates registered after `after`, of the log folded
/// up to `log_size`: the first page opens the document, the last closes it, and the pages joined in order are the
/// document. `next_after` is the registration seq the next page starts after (null on the last).
public struct ODMExportReply: ReplyView, Equatable {
    public var logSize: Int64
    public var xml: String
    public var nextAfter: Int64?

    enum CodingKeys: String, CodingKey { case logSize = "log_size", xml, nextAfter = "next_after" }
}
