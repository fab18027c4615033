import TrialGateCore

/// One record of the SDTM IE domain: a criterion a subject did not meet (`SDTMIE`).
public struct IERecord: Codable, Sendable, Equatable {
    public var studyID: String
    public var domain = "IE"
    public var usubjID: String
    public var seq: Int
    public var spID: String
    public var testCode: String
    public var test: String
    public var category: String
    public var originalResult: String
    public var standardResult: String
    public var dateTime: String

    public init(studyID: String, usubjID: String, seq: Int, spID: String, testCode: String, test: String, category: String,
                originalResult: String, standardResult: String, dateTime: String) {
        (self.studyID, self.usubjID, self.seq, self.spID, self.testCode, self.test) = (studyID, usubjID, seq, spID, testCode, test)
        (self.category, self.originalResult, self.standardResult, self.dateTime) = (category, originalResult, standardResult, dateTime)
    }

    enum CodingKeys: String, CodingKey {
        case studyID = "STUDYID", domain = "DOMAIN", usubjID = "USUBJID", seq = "IESEQ", spID = "IESPID", testCode = "IETESTCD", test = "IETEST"
        case category = "IECAT", originalResult = "IEORRES", standardResult = "IESTRESC", dateTime = "IEDTC"
    }

    /// The values in the order of `SDTMIE.variables`, the sequence number written as a whole number.
    public var values: [String] {
        [studyID, domain, usubjID, String(seq), spID, testCode, test, category, originalResult, standardResult, dateTime]
    }
}

/// `export.sdtm-ie`: one page of IE records, of the candidates registered after `after`, of the log folded up to
/// `log_size`; `next_after` is the registration seq the next page starts after (null on the last).
public struct SDTMIEReply: ReplyView, Equatable {
    public var logSize: Int64
    /// The time of the newest event of the log folded (event `log_size`).
    public var logTime: String
    public var records: [IERecord]
    public var nextAfter: Int64?

    enum CodingKeys: String, CodingKey { case logSize = "log_size", logTime = "log_time", records, nextAfter = "next_after" }
}
