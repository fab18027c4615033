import Foundation
import TrialGateAudit
import TrialGateCore

/// Whether a decision's signature holds with the key in force where it stands in the log.
enum SignatureVerdict: Equatable {
    case valid
    case invalid
    /// Not checked yet: what the check needs. Checks are batched on other threads when a report or a
    /// snapshot needs them.
    case pending(message: [UInt8], signature: [UInt8], publicKey: [UInt8])
}

/// The newest decision of a candidate, as far as a report shows it.
struct ReportDecision: Equatable {
    var seq: Int64
    var timestamp: UTCTimestamp
    var outcome: String
    /// Each criterion's result (`pass`, `fail`, `unknown`, `skipped`), by criterion id.
    var results: [String: String]
    var verdict: SignatureVerdict
    /// The policy the decision was made under, `id@version`.
    var policy: String
}

/// An investigator's sign-off of a candidate's newest decision, as a report shows it.
struct ReportSignOff: Equatable {
    var seq: Int64
    var timestamp: UTCTimestamp
    var signer: String
    var printedName: String
    var meaning: SignOffMeaning
    var reason: String?
}

/// A review query, as a report counts it.
struct ReportQuery: Equatable {
    var seq: Int64
    var openedAt: UTCTimestamp
    var about: String
    var answered: Bool
    var closedAt: UTCTimestamp?

    var status: ReviewQuery.Status { closedAt != nil ? .closed : answered ? .answered : .open }
}

/// A correction as the audit-trail view of a report lists it.
struct ReportCorrection: Equatable {
    var seq: Int64
    var timestamp: UTCTimestamp
    var actor: String
    var corrects: Int64
    var record: EventType
    var field: String
    var oldValue: JSONValue
    var newValue: JSONValue
    var reason: String
}

/// One candidate, reduced to what a report shows of it.
struct ReportCandidate: Equatable {
    var id: String
    var registeredSeq: Int64
    var registeredAt: UTCTimestamp
    /// The registration's site and consent date, after corrections.
    var site: String
    var consentDate: JSONValue
    /// Each model-score record's score and study date after corrections (null when a correction removed the
    /// score), in log order.
    var scores: [(seq: Int64, score: JSONValue, observed: String)] = []
    var decisionCount = 0
    var firstDecisionAt: UTCTimestamp?
    var latest: ReportDecision?
    /// The withdrawal: its CONSORT category (nil: recorded before categories existed) and its reason, if given.
    var withdrawal: (seq: Int64, category: WithdrawalCategory?, reason: String?, timestamp: UTCTimestamp)?
    var corrections: [ReportCorrection] = []
    /// The type of each other record a correction named (clinical, imaging, Ki-67, …), by seq.
    var correctedRecords: [Int64: EventType] = [:]
    /// Records, corrections and the withdrawal since the newest decision (it is stale when any exist).
    var changesSinceDecision: [StaleCause] = []
    /// The sign-off of the newest decision, if any.
    var signOff: ReportSignOff?
    var queries: [ReportQuery] = []

    static func == (a: ReportCandidate, b: ReportCandidate) -> Bool {
        a.id == b.id && a.registeredSeq == b.registeredSeq && a.registeredAt == b.registeredAt && a.site == b.site
            && a.consentDate == b.consentDate && a.scores.map(\.seq) == b.scores.map(\.seq) && a.scores.map(\.score) == b.scores.map(\.score)
            && a.scores.map(\.observed) == b.scores.map(\.observed)
            && a.decisionCount == b.decisionCount && a.firstDecisionAt == b.firstDecisionAt && a.latest == b.latest
            && a.withdrawal?.seq == b.withdrawal?.seq && a.withdrawal?.category == b.withdrawal?.category && a.withdrawal?.reason == b.withdrawal?.reason
            && a.withdrawal?.timestamp == b.withdrawal?.timestamp && a.corrections == b.corrections
            && a.correctedRecords == b.correctedRecords && a.changesSinceDecision == b.changesSinceDecision && a.signOff == b.signOff
            && a.queries == b.queries
    }

    /// The current model score, as clinical model 2 reads it: of the records that have one, the latest study date,
    /// then the latest entry.
    var modelScore: JSONValue? {
        scores.filter { $0.score != .null }.max { ($0.observed, $0.seq) < ($1.observed, $1.seq) }?.score
    }

    /// Why the newest decision is stale, given the policies published (empty: current).
    func staleCauses(_ policies: [PublishedPolicy]) -> [StaleCause] {
        guard let latest else { return [] }
        return changesSinceDecision + StaleCause.policies(after: latest.seq, in: policies)
    }

    /// The status (`ScreeningStatus`): `withdrawn`, `pending`, `stale` or the current decision's outcome.
    func status(_ policies: [PublishedPolicy]) -> String {
        ScreeningStatus.of(withdrawn: withdrawal != nil, outcome: latest?.outcome, stale: !staleCauses(policies).isEmpty)
    }

    /// The outcome an investigator confirmed for the current decision, if any.
    func confirmed(_ policies: [PublishedPolicy]) -> String? {
        guard withdrawal == nil, let signOff, staleCauses(policies).isEmpty else { return nil }
        return signOff.meaning.outcome.rawValue
    }
}
