/// Something that happened after a decision and makes it stale: a record, a correction, a withdrawal about the
/// candidate, or a newer policy.
public struct StaleCause: Sendable, Equatable, Codable {
    public let seq: Int64
    public let type: EventType
    /// What changed, in words (`clinical.recorded`, `entry.corrected of event 12: ecog`, `policy sanet-ep@2.1.0`).
    public let detail: String

    public init(seq: Int64, type: EventType, detail: String) {
        (self.seq, self.type, self.detail) = (seq, type, detail)
    }

    /// The cause an event about the candidate is, if it changes the candidate's data.
    public static func of(_ event: Event) -> StaleCause? {
        guard event.type.changesCandidateData else { return nil }
        if event.type == .entryCorrected {
            let c = EntryCorrection(event)
            return StaleCause(seq: event.seq, type: event.type, detail: "entry.corrected of event \(c?.corrects ?? 0): \(c?.field ?? "")")
        }
        return StaleCause(seq: event.seq, type: event.type, detail: event.type.rawValue)
    }

    /// The causes the policies published after event `seq` are.
    public static func policies(after seq: Int64, in policies: [PublishedPolicy]) -> [StaleCause] {
        policies.filter { $0.seq > seq }.map {
            StaleCause(seq: $0.seq, type: .policyPublished, detail: "policy \(Decision.policyName(id: $0.id, version: $0.version)) published")
        }
    }
}
