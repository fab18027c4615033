import TrialGateAudit
import TrialGateCore

/// One row of the event table, as stored: the columns kept for queries and the canonical body that is hashed.
public struct StoredRow: Sendable {
    public let seq: Int64
    public let timestamp: String
    public let actor: String
    public let type: String
    public let candidate: String?
    public let prevHash: String
    public let hash: String
    /// RFC 8785 bytes of the event body (every field but `hash`).
    public let body: [UInt8]
    /// The `registration_seq` column: the seq of the candidate's registration, which reads by candidate go by.
    public var registrationSeq: Int64? = nil

    public init(seq: Int64, timestamp: String, actor: String, type: String, candidate: String?, prevHash: String, hash: String,
                body: [UInt8], registrationSeq: Int64? = nil) {
        self.seq = seq
        self.timestamp = timestamp
        self.actor = actor
        self.type = type
        self.candidate = candidate
        self.prevHash = prevHash
        self.hash = hash
        self.body = body
        self.registrationSeq = registrationSeq
    }

    /// Parses the body into an event carrying the stored hash.
    /// - Throws: `store_corrupt` when the body is not a well-formed event, or does not hash to the stored hash (it
    ///   was edited outside TrialGate: nothing is built on it; `trialgate verify` says more).
    public func event() throws -> Event {
        guard bodyMatchesHash else { throw TrialGateError(.storeCorrupt, alteredMessage) }
        return try reading { try Event(json: try JSONParser.parse(body)).withHash(hash) }
    }

    /// Whether the stored bytes hash to the stored hash (they were not edited outside TrialGate).
    public var bodyMatchesHash: Bool { Digest.sha256Hex(body) == hash }

    /// What to say of a row whose bytes do not hash to its hash.
    public var alteredMessage: String {
        "event \(seq) does not hash to its stored hash: the store was changed outside TrialGate; run `trialgate verify`"
    }

    /// Parses the body into an event carrying the stored hash, whether or not the body hashes to it (for exporting
    /// what is stored as it is). Everything that builds on an event uses `event()`.
    /// - Throws: `store_corrupt` when the body is not a well-formed event.
    public func eventAsStored() throws -> Event {
        try reading { try Event(json: try JSONParser.parse(body)).withHash(hash) }
    }

    /// Parses the body and says whether it is exactly the event's RFC 8785 body (what an audit checks).
    /// - Throws: `store_corrupt` when the body is not a well-formed event.
    public func eventCheckingCanonical() throws -> (event: Event, isCanonicalBody: Bool) {
        try reading { try Event.decode(body: body, hash: hash) }
    }

    /// Reports a body that is not a well-formed event as a damaged store, naming the event.
    private func reading<T>(_ parse: () throws -> T) throws -> T {
        do {
            return try parse()
        } catch let e as TrialGateError {
            throw TrialGateError(.storeCorrupt, "event \(seq) cannot be read: \(e.message)")
        }
    }
}

/// The size and newest hash of the log.
public struct LogHead: Sendable, Equatable {
    public let size: Int64
    public let hash: String

    public init(size: Int64, hash: String) {
        self.size = size
        self.hash = hash
    }
}
