import TrialGateCore

/// What a command answers, as a typed value: the command line renders it, and the wire carries its one encoding,
/// `json`. Writes answer a typed `WriteReceipt`; the views and listings (`show`, `decisions`, `report`, …) are still
/// the documents `docs/protocol.md` describes, built as JSON (see `docs/architecture.md`, "What is still to
/// straighten").
public enum Reply: Sendable {
    case written(WriteReceipt)
    case document(JSONValue)

    /// The reply's one encoding: the `result` of a reply line.
    public var json: JSONValue {
        switch self {
        case .written(let receipt): receipt.json
        case .document(let value): value
        }
    }
}

/// What a write answers: its own event, every event it appended (a write that makes a current decision stale also
/// appends a review query, in the same commit), and what some writes add (a published policy's summary, the keys of
/// a rotation, an investigator's words).
public struct WriteReceipt: Sendable, Equatable {
    /// An event the write appended.
    public struct Appended: Sendable, Equatable {
        public let seq: Int64
        public let type: EventType
        public let hash: String
    }

    public let appended: [Appended]
    /// Members some writes add to the receipt, by name.
    public var extra: [String: JSONValue] = [:]

    /// The write's own event: the first it appended.
    public var seq: Int64 { appended.first?.seq ?? 0 }
    public var hash: String { appended.first?.hash ?? "" }

    public init(_ events: [Event]) {
        appended = events.map { Appended(seq: $0.seq, type: $0.type, hash: $0.hash) }
    }

    public var json: JSONValue {
        var members = extra
        members.reserveCapacity(extra.count + 3)
        members["appended"] = .array(appended.map { ["seq": .number(Double($0.seq)), "type": .string($0.type.rawValue), "hash": .string($0.hash)] })
        members["seq"] = .number(Double(seq))
        members["hash"] = .string(hash)
        return .object(members)
    }
}
