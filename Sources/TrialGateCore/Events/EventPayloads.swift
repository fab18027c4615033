/// The one place each kind of event's payload is read: a decoder per kind that a projection keeps whole. The fold
/// (`LogState`), the report's fold (`ReportState`), the views and the auditor all read payloads through these, so a
/// member is named once. Each decoder checks the members it reads for type (`ObjectReader`: the message names the
/// member and what was expected); the rules beyond the shape are `LogState.check`'s. Record payloads (clinical,
/// imaging, …) are field maps their `RecordSchema` describes, and are read as facts by the clinical model.

extension TrialInfo {
    /// The trial a `trial.initialised` payload sets.
    public init(payloadOf event: Event) throws {
        var r = try ObjectReader(event.payload, context: "trial.initialised")
        trialID = try r.string("trial_id")
        logOrigin = try r.string("log_origin")
        publicKey = try r.string("public_key")
        keyID = try r.string("key_id")
        try r.finish()
    }
}

/// A `key.rotated` payload: the key in force it replaces, the new key, and the signatures of both over the change
/// (`KeyChain` says what each signs).
public struct KeyRotation: Sendable, Equatable {
    public let previousKeyID: String
    /// Base64 of the new raw 32-byte Ed25519 public key.
    public let publicKey: String
    public let keyID: String
    /// The old key's signature, and the new key's, both base64.
    public let signature: String
    public let newKeySignature: String

    public init(payloadOf event: Event) throws {
        var r = try ObjectReader(event.payload, context: "key.rotated")
        previousKeyID = try r.string("previous_key_id")
        publicKey = try r.string("public_key")
        keyID = try r.string("key_id")
        signature = try r.string("signature")
        newKeySignature = try r.string("new_key_signature")
        try r.finish()
    }
}

extension SigningKeyRecord {
    /// The key a `trial.initialised` or `key.rotated` event brings into force.
    public init(payloadOf event: Event) throws {
        if event.type == .keyRotated {
            let rotation = try KeyRotation(payloadOf: event)
            self.init(seq: event.seq, publicKey: rotation.publicKey, keyID: rotation.keyID)
        } else {
            let trial = try TrialInfo(payloadOf: event)
            self.init(seq: event.seq, publicKey: trial.publicKey, keyID: trial.keyID)
        }
    }
}

extension PublishedPolicy {
    /// The policy a `policy.published` event publishes, its text included.
    public init(payloadOf event: Event) throws {
        var r = try ObjectReader(event.payload, context: "policy.published")
        let id = try r.string("policy_id"), version = try r.string("version"), sha256 = try r.string("sha256"), text = try r.string("text")
        try r.finish()
        self.init(seq: event.seq, publishedAt: event.timestamp, id: id, version: version, sha256: sha256, text: text)
    }
}

/// A candidate's withdrawal from screening (`candidate.withdrawn`): its CONSORT category and the reason in words.
public struct Withdrawal: Sendable, Equatable {
    public let seq: Int64
    /// The controlled category; nil for a withdrawal recorded before categories existed (a reason alone).
    public let category: WithdrawalCategory?
    /// The free text beside the category (required with `other`, and the whole record of an older withdrawal).
    public let reason: String?
    public let timestamp: UTCTimestamp
    public let actor: String

    public init(seq: Int64, category: WithdrawalCategory?, reason: String?, timestamp: UTCTimestamp, actor: String) {
        (self.seq, self.category, self.reason, self.timestamp, self.actor) = (seq, category, reason, timestamp, actor)
    }

    public init(payloadOf event: Event) throws {
        var r = try ObjectReader(event.payload, context: "candidate.withdrawn")
        let code = try r.optionalString("category")
        let reason = try r.optionalString("reason")
        guard code != nil || reason != nil else {
            throw TrialGateError(.missingField, "candidate.withdrawn: \"category\" is required (one of \(WithdrawalCategory.codes.joined(separator: ", ")))")
        }
        let category = try code.map { try WithdrawalCategory.parse($0, field: "candidate.withdrawn: \"category\"") }
        self.init(seq: event.seq, category: category, reason: reason, timestamp: event.timestamp, actor: event.actor)
    }

    /// The payload of a new withdrawal: its category, and its reason when one is given.
    public static func payload(category: WithdrawalCategory, reason: String?) -> JSONValue {
        var members: [String: JSONValue] = ["category": .string(category.rawValue)]
        if let reason { members["reason"] = .string(reason) }
        return .object(members)
    }
}

extension DecisionSummary {
    /// The decision a `decision.issued` event carries, as signed, with its signature. The outcome, policy and
    /// criterion results are read from the signed decision as it stands (a forged one may lack them: they are then
    /// empty, and `verify` reports the decision, which it re-derives).
    public init(payloadOf event: Event) throws {
        var r = try ObjectReader(event.payload, context: "decision.issued")
        let d = try r.value("decision")
        let signature = try r.string("signature")
        try r.finish()
        self.init(event, decision: d, signature: signature)
    }

    /// The decision as stored, whatever the shape of the rest of its payload (a forged log's, which a view shows and
    /// `verify` reports); nil without a `decision` member.
    public init?(storedIn event: Event) {
        guard let d = event.payload["decision"] else { return nil }
        self.init(event, decision: d, signature: event.payload["signature"]?.stringValue ?? "")
    }

    private init(_ event: Event, decision d: JSONValue, signature: String) {
        var results: [String: String] = [:]
        for c in d["criteria"]?.arrayValue ?? [] {
            if let id = c["id"]?.stringValue, let result = c["result"]?.stringValue { results[id] = result }
        }
        self.init(seq: event.seq, outcome: d["outcome"]?.stringValue ?? "", timestamp: event.timestamp, actor: event.actor,
                  policyID: d["policy"]?["id"]?.stringValue ?? "", policyVersion: d["policy"]?["version"]?.stringValue ?? "",
                  results: results, signature: signature, keyID: d["key_id"]?.stringValue ?? "",
                  storedOutcome: d["outcome"] ?? .null, storedPolicy: d["policy"] ?? .null)
    }
}

extension SignOff {
    /// The sign-off a `decision.signed` event records: its statement, as signed, and the signature.
    public init(payloadOf event: Event) throws {
        var r = try ObjectReader(event.payload, context: "decision.signed")
        let statement = try r.value("statement")
        let signature = try r.string("signature")
        try r.finish()
        var s = try ObjectReader(statement, context: "decision.signed statement")
        let meaningText = try s.string("meaning")
        guard let meaning = SignOffMeaning(rawValue: meaningText) else {
            throw TrialGateError(.invalidEvent, "event \(event.seq) (decision.signed): meaning must be one of \(SignOffMeaning.allCases.map(\.rawValue).joined(separator: ", ")), got \"\(meaningText)\"")
        }
        let signedAtText = try s.string("signed_at")
        guard let signedAt = UTCTimestamp(signedAtText) else {
            throw TrialGateError(.invalidEvent, "event \(event.seq) (decision.signed): signed_at must be a UTC time, got \"\(signedAtText)\"")
        }
        var decision = try ObjectReader(try s.value("decision"), context: "decision.signed statement decision")
        var signer = try ObjectReader(try s.value("signer"), context: "decision.signed statement signer")
        self.init(seq: event.seq, timestamp: event.timestamp, signer: try signer.string("user"), printedName: try signer.string("printed_name"),
                  meaning: meaning, reason: try s.optionalString("reason"), decisionSeq: Int64(try decision.integer("seq")),
                  signedAt: signedAt, statement: statement, signature: signature)
    }

    /// The words the investigator signed, the statement's `meaning_text` (`LogState.check` requires them to be the
    /// words of the meaning; nil for a statement without them as a string).
    public var meaningText: String? { statement["meaning_text"]?.stringValue }
}

extension ReviewQuery {
    /// The query a `query.opened` event opens.
    public init(payloadOf event: Event) throws {
        var r = try ObjectReader(event.payload, context: event.type.rawValue)
        let aboutText = try r.string("about")
        guard let about = About(rawValue: aboutText) else {
            throw TrialGateError(.invalidField, "\(event.type.rawValue): \"about\" must be one of \(About.allCases.map(\.rawValue).joined(separator: ", ")), got \"\(aboutText)\"")
        }
        let criterion = try r.optionalString("criterion")
        let decision = try r.optionalValue("decision").map { v -> Int64 in
            guard let n = v.intValue else { throw TrialGateError(.invalidField, "\(event.type.rawValue): \"decision\" must be a decision's sequence number") }
            return Int64(n)
        }
        self.init(seq: event.seq, candidate: event.candidate ?? "", openedAt: event.timestamp, openedBy: event.actor, about: about,
                  criterion: criterion, decision: decision, text: try r.string("text"))
    }

    /// The query a `query.answered` or `query.closed` event is about.
    public static func target(of event: Event) throws -> Int64 {
        var r = try ObjectReader(event.payload, context: event.type.rawValue)
        return Int64(try r.integer("query"))
    }
}

extension ReviewQuery.Answer {
    /// A coordinator's answer (`query.answered`): the note and the records it points to.
    public init(payloadOf event: Event) throws {
        var r = try ObjectReader(event.payload, context: event.type.rawValue)
        let note = try r.string("note")
        let records = (r.optionalValue("records")?.arrayValue ?? []).compactMap { $0.intValue.map(Int64.init) }
        self.init(seq: event.seq, timestamp: event.timestamp, actor: event.actor, note: note, records: records)
    }
}

/// How a `query.closed` event resolves its query.
public struct QueryClosing: Sendable, Equatable {
    public let query: Int64
    public let resolution: String

    public init(payloadOf event: Event) throws {
        var r = try ObjectReader(event.payload, context: event.type.rawValue)
        query = Int64(try r.integer("query"))
        resolution = try r.string("resolution")
    }
}
