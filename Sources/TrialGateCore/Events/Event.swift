/// An event before it joins the log: what happened, to whom, by whom and when.
public struct EventDraft: Sendable, Equatable {
    public var timestamp: UTCTimestamp
    public var actor: String
    public var type: EventType
    public var candidate: String?
    public var payload: JSONValue

    public init(timestamp: UTCTimestamp, actor: String, type: EventType, candidate: String?, payload: JSONValue) {
        self.timestamp = timestamp
        self.actor = actor
        self.type = type
        self.candidate = candidate
        self.payload = payload
    }
}

/// An event in the log: immutable, numbered, chained to its predecessor by hash.
public struct Event: Sendable, Equatable {
    /// The schema version every event is written with today.
    /// Version 3: attestations are signed by an investigator; sign-offs, review queries and investigators' accounts exist.
    public static let currentSchemaVersion = 3
    /// The `prev_hash` of the first event: 32 zero bytes in hex.
    public static let genesisHash = String(repeating: "0", count: 64)

    /// 1-based position in the log.
    public let seq: Int64
    public let timestamp: UTCTimestamp
    /// The authenticated principal who caused the event.
    public let actor: String
    public let type: EventType
    /// The candidate the event is about, if any.
    public let candidate: String?
    public let schemaVersion: Int
    public let payload: JSONValue
    /// Hex SHA-256 of the previous event's canonical bytes.
    public let prevHash: String
    /// Hex SHA-256 of this event's canonical bytes (`canonicalBody`).
    public let hash: String

    public init(seq: Int64, timestamp: UTCTimestamp, actor: String, type: EventType, candidate: String?,
                schemaVersion: Int, payload: JSONValue, prevHash: String, hash: String) {
        self.seq = seq
        self.timestamp = timestamp
        self.actor = actor
        self.type = type
        self.candidate = candidate
        self.schemaVersion = schemaVersion
        self.payload = payload
        self.prevHash = prevHash
        self.hash = hash
    }

    /// The object that is hashed: every field but `hash`.
    public static func body(seq: Int64, draft: EventDraft, schemaVersion: Int, prevHash: String) -> JSONValue {
        .object([
            "seq": .number(Double(seq)),
            "timestamp": .string(draft.timestamp.description),
            "actor": .string(draft.actor),
            "type": .string(draft.type.rawValue),
            "candidate": .from(draft.candidate),
            "schema_version": .number(Double(schemaVersion)),
            "payload": draft.payload,
            "prev_hash": .string(prevHash),
        ])
    }

    /// `CanonicalJSON.encode(body(seq:draft:schemaVersion:prevHash:))`, written member by member in the order
    /// RFC 8785 sorts the names, without building the object: every append and every verification encodes one.
    public static func canonicalBody(seq: Int64, draft: EventDraft, schemaVersion: Int, prevHash: String) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(512)
        out.append(contentsOf: #"{"actor":"#.utf8)
        CanonicalJSON.writeString(draft.actor, into: &out)
        out.append(contentsOf: #","candidate":"#.utf8)
        if let candidate = draft.candidate { CanonicalJSON.writeString(candidate, into: &out) } else { out.append(contentsOf: "null".utf8) }
        out.append(contentsOf: #","payload":"#.utf8)
        CanonicalJSON.write(draft.payload, into: &out)
        out.append(contentsOf: #","prev_hash":"#.utf8)
        CanonicalJSON.writeString(prevHash, into: &out)
        out.append(contentsOf: #","schema_version":"#.utf8)
        CanonicalJSON.write(.number(Double(schemaVersion)), into: &out)
        out.append(contentsOf: #","seq":"#.utf8)
        CanonicalJSON.write(.number(Double(seq)), into: &out)
        out.append(contentsOf: #","timestamp":"#.utf8)
        CanonicalJSON.writeString(draft.timestamp.description, into: &out)
        out.append(contentsOf: #","type":"#.utf8)
        CanonicalJSON.writeString(draft.type.rawValue, into: &out)
        out.append(UInt8(ascii: "}"))
        return out
    }

    /// This event's body, as hashed.
    public var body: JSONValue {
        Event.body(seq: seq, draft: draft, schemaVersion: schemaVersion, prevHash: prevHash)
    }

    /// The RFC 8785 bytes that `hash` is computed over.
    public var canonicalBody: [UInt8] {
        Event.canonicalBody(seq: seq, draft: draft, schemaVersion: schemaVersion, prevHash: prevHash)
    }

    /// The event with its hash, as exported (`export`, `events.jsonl`).
    public var json: JSONValue {
        guard case .object(var o) = body else { return body }
        o["hash"] = .string(hash)
        return .object(o)
    }

    /// The draft this event was sealed from.
    public var draft: EventDraft {
        EventDraft(timestamp: timestamp, actor: actor, type: type, candidate: candidate, payload: payload)
    }

    /// The members of an event body, as `body` writes them.
    private static let bodyMemberCount = 8

    /// Reads a stored body (every field but `hash`), and says whether the bytes are exactly
    /// `canonicalBody` of the event read, checked while parsing instead of by encoding the event again.
    /// - Parameter hash: the hash the event is given (the stored one); not checked here.
    public static func decode(body bytes: [UInt8], hash: String) throws -> (event: Event, isCanonicalBody: Bool) {
        let (json, canonical) = try JSONParser.parseCanonical(bytes)
        let e = try Event(json: json)
        // `body` always writes `candidate` (null when none), never `hash`, and the timestamp in one form:
        // anything else reads back to an event whose body is different bytes.
        let exact = canonical && json.objectValue?.count == bodyMemberCount && json["candidate"] != nil && json["hash"] == nil
            && json["timestamp"]?.stringValue == e.timestamp.description
        return (e.withHash(hash), exact)
    }

    /// The same event carrying `hash` (a stored or recomputed one) instead of the one it was read with.
    public func withHash(_ hash: String) -> Event {
        Event(seq: seq, timestamp: timestamp, actor: actor, type: type, candidate: candidate, schemaVersion: schemaVersion,
              payload: payload, prevHash: prevHash, hash: hash)
    }

    /// Reads an exported or stored event back, checking the shape of every field (not the hash).
    public init(json: JSONValue) throws {
        var r = try ObjectReader(json, context: "event")
        let seq = try r.integer("seq")
        guard seq >= 1 else { throw TrialGateError(.invalidEvent, "event seq must be at least 1") }
        let tsText = try r.string("timestamp")
        guard let ts = UTCTimestamp(tsText) else { throw TrialGateError(.invalidEvent, "event \(seq): bad timestamp \"\(tsText)\"") }
        let typeText = try r.string("type")
        guard let type = EventType(rawValue: typeText) else { throw TrialGateError(.invalidEvent, "event \(seq): unknown type \"\(typeText)\"") }
        let actor = try r.string("actor")
        let candidate = try r.optionalString("candidate")
        let schema = try r.integer("schema_version")
        let payload = try r.value("payload")
        let prev = try r.string("prev_hash")
        let hash = try r.optionalString("hash") ?? ""
        try r.finish()
        self.init(seq: Int64(seq), timestamp: ts, actor: actor, type: type, candidate: candidate, schemaVersion: schema,
                  payload: payload, prevHash: prev, hash: hash)
    }
}
