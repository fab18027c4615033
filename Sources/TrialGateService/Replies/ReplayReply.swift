import TrialGateCore

/// `replay`: every candidate rebuilt from the log and every decision re-derived: how many were reproduced and how
/// many were not, and a SHA-256 of the folded state (equal digests, equal replays).
public struct ReplayReply: ReplyView, Equatable {
    public var events: Int64
    public var candidates: Int
    public var decisions: Int
    public var reproduced: Int
    public var mismatched: Int
    public var valid: Bool
    public var stateSHA256: String
    /// The first 50 problems.
    public var problems: [VerifyReply.Problem]

    enum CodingKeys: String, CodingKey {
        case events, candidates, decisions, reproduced, mismatched, valid, problems, stateSHA256 = "state_sha256"
    }
}
