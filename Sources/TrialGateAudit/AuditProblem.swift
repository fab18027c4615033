/// One problem found in the log, at the first event where it shows.
public struct AuditProblem: Sendable, Equatable, CustomStringConvertible {
    public let seq: Int64
    /// `hash_mismatch`, `chain_broken`, `not_canonical`, `invalid_event`, `bad_signature`, `policy_digest`, `decision_mismatch`, …
    public let code: String
    public let message: String

    public init(seq: Int64, code: String, message: String) {
        self.seq = seq
        self.code = code
        self.message = message
    }

    public var description: String { "event \(seq): \(code): \(message)" }
}
