import TrialGateCore
import TrialGateService

/// `standing.json` of `trialgate decision export`: whether the exported decision still stands, from the log at
/// export (not signed): current, stale (and why) or superseded (and by which decision).
struct ExportedStanding: Codable, Equatable {
    var decisionSeq: Int64
    var standing: String?
    var supersededBy: Int64?
    var staleCauses: [StaleCause]
    /// The outcome confirmed by an investigator; written (as null when none) only for a decision not superseded.
    var confirmed: String??
    /// The candidate's newest event when the standing was read.
    var asOf: Int64
    var note = "not signed; from the log at export"

    enum CodingKeys: String, CodingKey {
        case standing, confirmed, note, decisionSeq = "decision_seq", supersededBy = "superseded_by", staleCauses = "stale_causes", asOf = "as_of"
    }

    /// Decision `seq`'s standing in the candidate's view `shown`.
    init(decision seq: Int64, shown: CandidateReply) {
        let newest = shown.decision
        (decisionSeq, asOf) = (seq, shown.asOf.lastSeq)
        if newest?.decisionSeq != seq {
            (standing, supersededBy, staleCauses, confirmed) = ("superseded", newest?.decisionSeq, [], nil)
        } else {
            (standing, supersededBy, staleCauses, confirmed) = (newest?.standing, nil, newest?.staleCauses ?? [], .some(newest?.confirmed))
        }
    }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(decisionSeq, forKey: .decisionSeq)
        try c.encodeIfPresent(standing, forKey: .standing)
        try c.encodeIfPresent(supersededBy, forKey: .supersededBy)
        try c.encode(staleCauses, forKey: .staleCauses)
        if let confirmed { try c.encodeIfPresent(confirmed, forKey: .confirmed) }
        try c.encode(asOf, forKey: .asOf)
        try c.encode(note, forKey: .note)
    }

    var json: JSONValue {
        do { return try JSONValueEncoder().encode(self) } catch { preconditionFailure("standing.json failed to encode: \(error)") }
    }
}
