import TrialGateCore

/// What a write answers: its own event, every event it appended (a write that makes a current decision stale also
/// appends a review query, in the same commit), and what some writes add (a published policy's summary, the keys of
/// a rotation, an investigator's words).
public struct WriteReceipt: ReplyView, Equatable {
    /// An event the write appended.
    public struct Appended: Codable, Sendable, Equatable {
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

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(json)
    }

    /// The receipt a reply line carried: `appended`, and every member but `seq` and `hash` (which repeat the first
    /// event) as `extra`.
    public init(from decoder: any Decoder) throws {
        let value = try decoder.singleValueContainer().decode(JSONValue.self)
        guard case .object(var members) = value else {
            throw DecodingError.typeMismatch(WriteReceipt.self, .init(codingPath: decoder.codingPath, debugDescription: "expected an object, found \(value.typeName)"))
        }
        let events = try JSONValueDecoder(context: "receipt").decode([Appended].self, from: members["appended"] ?? .array([]))
        appended = events
        for name in ["appended", "seq", "hash"] { members[name] = nil }
        extra = members
    }
}
