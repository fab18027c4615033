/// The decision lifecycle: a machine decision is a proposal, current until the data or the policy it rests on
/// changes; an investigator confirms or overrides a current decision with a signed sign-off; review queries track
/// what needs a person's attention. Everything here is folded from events, like the rest of `LogState`.

/// Rules for the text people sign and the encodings of what they sign with.
public enum SignedText {
    /// Characters that change how text is shown without being seen: bidirectional embeddings, overrides and
    /// isolates, zero-width characters, the word joiner and the byte-order mark.
    static func isInvisible(_ u: Unicode.Scalar) -> Bool {
        (0x200B...0x200F).contains(u.value) || (0x202A...0x202E).contains(u.value) || (0x2060...0x2069).contains(u.value) || u.value == 0xFEFF
    }

    /// Why `text` cannot be signed text, or nil: 1 to `maxLength` characters (Unicode code points, so combining
    /// marks count and the size is bounded), not blank, no control characters (newlines only when `multiline`), no
    /// invisible or direction-changing ones.
    public static func problem(_ text: String, maxLength: Int, multiline: Bool) -> String? {
        let count = text.unicodeScalars.count
        if count > maxLength { return "at most \(maxLength) characters, got \(count)" }
        for u in text.unicodeScalars {
            if u == "\n", multiline { continue }
            if u.value < 0x20 || (0x7F...0x9F).contains(u.value) || u == "\u{2028}" || u == "\u{2029}" {
                return multiline ? "no control characters but newlines" : "one line, without control characters"
            }
            if isInvisible(u) { return "no invisible or direction-changing characters (U+\(String(u.value, radix: 16, uppercase: true)))" }
        }
        if text.unicodeScalars.allSatisfy({ $0.properties.isWhitespace }) { return "not blank" }
        return nil
    }

    /// `text` as names are compared: lowercased, every run of white space (of any kind) one space, none around it,
    /// so that names that print alike compare alike.
    public static func folded(_ text: String) -> String {
        var out = ""
        var pendingSpace = false
        for u in text.lowercased().unicodeScalars {
            if u.properties.isWhitespace { pendingSpace = !out.isEmpty; continue }
            if pendingSpace { out.append(" "); pendingSpace = false }
            out.unicodeScalars.append(u)
        }
        return out
    }

    /// Whether `text` is the one canonical standard base64 spelling of exactly `bytes` bytes (padded, the spare bits
    /// of the last character zero), so that one key or signature cannot be written two ways.
    public static func isCanonicalBase64(_ text: String, bytes: Int) -> Bool {
        let u = Array(text.utf8)
        let padding = (3 - bytes % 3) % 3
        guard u.count == (bytes + 2) / 3 * 4, u.suffix(padding).allSatisfy({ $0 == UInt8(ascii: "=") }) else { return false }
        func value(_ c: UInt8) -> UInt8? {
            switch c {
            case 0x41...0x5A: c - 0x41
            case 0x61...0x7A: c - 0x61 + 26
            case 0x30...0x39: c - 0x30 + 52
            case 0x2B: 62
            case 0x2F: 63
            default: nil
            }
        }
        let values = u.dropLast(padding).map(value)
        guard values.allSatisfy({ $0 != nil }), let last = values.last ?? nil else { return false }
        let spareBits = padding * 2
        return last & UInt8((1 << spareBits) - 1) == 0
    }
}

/// Something that happened after a decision and makes it stale: a record, a correction, a withdrawal about the
/// candidate, or a newer policy.
public struct StaleCause: Sendable, Equatable {
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
            let target = event.payload["corrects"]?.intValue ?? 0
            let field = event.payload["field"]?.stringValue ?? ""
            return StaleCause(seq: event.seq, type: event.type, detail: "entry.corrected of event \(target): \(field)")
        }
        return StaleCause(seq: event.seq, type: event.type, detail: event.type.rawValue)
    }

    /// The causes the policies published after event `seq` are.
    public static func policies(after seq: Int64, in policies: [PublishedPolicy]) -> [StaleCause] {
        policies.filter { $0.seq > seq }.map {
            StaleCause(seq: $0.seq, type: .policyPublished, detail: "policy \(Decision.policyName(id: $0.id, version: $0.version)) published")
        }
    }

    public var json: JSONValue { ["seq": .number(Double(seq)), "type": .string(type.rawValue), "detail": .string(detail)] }
}

/// What an investigator's signature means (21 CFR 11.50(a)(3)).
public enum SignOffMeaning: String, Sendable, CaseIterable {
    /// The decision says eligible and the investigator confirms it.
    case confirmedEligible = "confirmed_eligible"
    /// The decision says ineligible and the investigator confirms it.
    case confirmedIneligible = "confirmed_ineligible"
    /// The investigator finds the candidate eligible against the decision (a reason is required).
    case overriddenEligible = "overridden_eligible"
    /// The investigator finds the candidate ineligible against the decision (a reason is required).
    case overriddenIneligible = "overridden_ineligible"

    /// The enrolment outcome the signature establishes.
    public var outcome: Outcome {
        switch self {
        case .confirmedEligible, .overriddenEligible: .eligible
        case .confirmedIneligible, .overriddenIneligible: .ineligible
        }
    }

    public var isOverride: Bool { self == .overriddenEligible || self == .overriddenIneligible }

    /// The meaning that confirms or overrides a decision of `proposed` to reach `outcome`.
    public static func of(confirming proposed: Outcome, to outcome: Outcome) -> SignOffMeaning? {
        switch (proposed == outcome, outcome) {
        case (true, .eligible): .confirmedEligible
        case (true, .ineligible): .confirmedIneligible
        case (false, .eligible): .overriddenEligible
        case (false, .ineligible): .overriddenIneligible
        default: nil
        }
    }

    /// The words the signature means, as the statement and every view show them.
    public func sentence(printedName: String, user: String, candidate: String, decisionSeq: Int64, proposed: String) -> String {
        let who = "I, \(printedName) (\(user)),"
        switch self {
        case .confirmedEligible, .confirmedIneligible:
            return "\(who) confirm that candidate \(candidate) is \(outcome.rawValue), as decision \(decisionSeq) proposes."
        case .overriddenEligible, .overriddenIneligible:
            return "\(who) find candidate \(candidate) \(outcome.rawValue), overriding decision \(decisionSeq), which proposes \(proposed), for the reason given."
        }
    }
}

/// The format of what an investigator signs.
public enum SignOffStatement {
    public static let format = "trialgate.signoff/1"
    /// How far the signer's clock may be from the log's when the statement is appended.
    public static let clockSkewMilliseconds: Int64 = 300_000

    /// The statement an investigator signs off decision `decision` with: the trial, the candidate, the exact
    /// decision (its sequence number and the SHA-256 of its signed bytes), the meaning in words, the signer's
    /// account, printed name and key, and the UTC time of signing. Its RFC 8785 bytes are what is signed.
    public static func make(trial: TrialInfo, candidate: String, decision: DecisionSummary, decisionSHA256: String,
                            meaning: SignOffMeaning, reason: String?, signer: UserAccount, signedAt: UTCTimestamp) -> JSONValue {
        var o: [String: JSONValue] = [
            "format": .string(format), "trial_id": .string(trial.trialID), "log_origin": .string(trial.logOrigin),
            "candidate": .string(candidate),
            "decision": ["seq": .number(Double(decision.seq)), "sha256": .string(decisionSHA256), "outcome": .string(decision.outcome),
                         "policy": .string(decision.policyName)],
            "meaning": .string(meaning.rawValue),
            "meaning_text": .string(meaning.sentence(printedName: signer.printedName ?? signer.name, user: signer.name, candidate: candidate,
                                                     decisionSeq: decision.seq, proposed: decision.outcome)),
            "signer": ["user": .string(signer.name), "printed_name": .string(signer.printedName ?? ""), "key_id": .string(signer.keyID ?? "")],
            "signed_at": .string(signedAt.description),
        ]
        if let reason { o["reason"] = .string(reason) }
        return .object(o)
    }
}

/// An investigator's sign-off as the log holds it.
public struct SignOff: Sendable, Equatable {
    public let seq: Int64
    public let timestamp: UTCTimestamp
    public let signer: String
    public let printedName: String
    public let meaning: SignOffMeaning
    public let reason: String?
    public let decisionSeq: Int64
    public let signedAt: UTCTimestamp
    /// The statement as signed, and the signature (base64).
    public let statement: JSONValue
    public let signature: String

    public var json: JSONValue {
        [
            "seq": .number(Double(seq)), "decision_seq": .number(Double(decisionSeq)), "meaning": .string(meaning.rawValue),
            "outcome": .string(meaning.outcome.rawValue), "signer": .string(signer), "printed_name": .string(printedName),
            "signed_at": .string(signedAt.description), "reason": .from(reason),
            "meaning_text": statement["meaning_text"] ?? .null,
        ]
    }
}

/// A review query on a candidate.
public struct ReviewQuery: Sendable, Equatable {
    public enum About: String, Sendable, CaseIterable {
        /// A criterion a decision could not decide (`unknown` or `needs_attestation`).
        case criterion
        /// A decision that became stale.
        case staleDecision = "stale_decision"
        /// A question a monitor or investigator asks.
        case question
    }

    public enum Status: String, Sendable {
        case open, answered, closed
    }

    public struct Answer: Sendable, Equatable {
        public let seq: Int64
        public let timestamp: UTCTimestamp
        public let actor: String
        public let note: String
        public let records: [Int64]
    }

    public let seq: Int64
    public let candidate: String
    public let openedAt: UTCTimestamp
    public let openedBy: String
    public let about: About
    public let criterion: String?
    public let decision: Int64?
    public let text: String
    public internal(set) var answers: [Answer] = []
    public internal(set) var closed: (seq: Int64, timestamp: UTCTimestamp, actor: String, resolution: String)?

    public var status: Status { closed != nil ? .closed : answers.isEmpty ? .open : .answered }

    public static func == (a: ReviewQuery, b: ReviewQuery) -> Bool {
        a.seq == b.seq && a.answers == b.answers && a.closed?.seq == b.closed?.seq
    }

    public var json: JSONValue {
        [
            "seq": .number(Double(seq)), "candidate": .string(candidate), "status": .string(status.rawValue),
            "about": .string(about.rawValue), "criterion": .from(criterion), "decision": .from(decision.map(Int.init)),
            "text": .string(text), "opened_at": .string(openedAt.description), "opened_by": .string(openedBy),
            "answers": .array(answers.map {
                ["seq": .number(Double($0.seq)), "at": .string($0.timestamp.description), "by": .string($0.actor), "note": .string($0.note),
                 "records": .array($0.records.map { .number(Double($0)) })]
            }),
            "closed": closed.map { ["seq": .number(Double($0.seq)), "at": .string($0.timestamp.description), "by": .string($0.actor),
                                    "resolution": .string($0.resolution)] } ?? .null,
        ]
    }
}

extension CandidateState {
    /// The newest decision, if any: every earlier one is superseded.
    public var latestDecision: DecisionSummary? { decisions.last }

    /// Why the newest decision is stale (empty: it is current), given the policies published in the log.
    public func staleCauses(policies: [PublishedPolicy]) -> [StaleCause] {
        guard let d = decisions.last else { return [] }
        return changesSinceDecision + StaleCause.policies(after: d.seq, in: policies)
    }

    /// The sign-off of the newest decision, if an investigator signed it.
    public var latestSignOff: SignOff? {
        guard let d = decisions.last else { return nil }
        return signOffs.last { $0.decisionSeq == d.seq }
    }

    /// The query opened by event `seq`, if it is this candidate's.
    public func query(seq: Int64) -> ReviewQuery? { queries.first { $0.seq == seq } }
}

extension LogState {
    /// Checks a `decision.signed` event: the statement names this trial, this candidate and its newest decision,
    /// which is current; the meaning fits the decision; the signer is the acting investigator, in force, at the
    /// candidate's site, with the printed name and key the account registers; the time of signing is the log's
    /// within `SignOffStatement.clockSkewMilliseconds`. The signature and the decision's SHA-256 need
    /// cryptography and are checked by the writer and the auditor.
    static func checkSignOff(_ event: Event, candidate: CandidateState, state: LogState) throws {
        func bad(_ why: String) -> TrialGateError { TrialGateError(.invalidEvent, "event \(event.seq) (decision.signed): \(why)") }
        var r = try ObjectReader(event.payload, context: "decision.signed")
        let statement = try r.value("statement")
        guard SignedText.isCanonicalBase64(try r.string("signature"), bytes: 64) else {
            throw bad("signature must be the canonical base64 of a 64-byte Ed25519 signature")
        }
        try r.finish()
        var s = try ObjectReader(statement, context: "decision.signed statement")
        guard try s.string("format") == SignOffStatement.format else { throw bad("the statement's format is not \(SignOffStatement.format)") }
        let trialID = try s.string("trial_id"), origin = try s.string("log_origin")
        // A fold of one candidate's events alone (a view) has no trial, accounts or policies: those rules were
        // checked when the event was written, and `verify` checks them on the whole log.
        let whole = state.trial != nil
        if let trial = state.trial, trialID != trial.trialID || origin != trial.logOrigin {
            throw bad("the statement names another trial or log")
        }
        guard try s.string("candidate") == candidate.id else { throw bad("the statement names another candidate") }
        var d = try ObjectReader(try s.value("decision"), context: "decision.signed statement decision")
        let decisionSeq = Int64(try d.integer("seq"))
        let sha = try d.string("sha256"), outcome = try d.string("outcome"), policy = try d.string("policy")
        try d.finish()
        guard sha.utf8.count == 64, sha.utf8.allSatisfy(isLowerHex) else { throw bad("decision.sha256 must be 64 lowercase hex digits") }
        guard let latest = candidate.decisions.last else { throw bad("candidate \(candidate.id) has no decision to sign") }
        guard decisionSeq == latest.seq else {
            throw bad(candidate.decisions.contains { $0.seq == decisionSeq }
                      ? "decision \(decisionSeq) was superseded by decision \(latest.seq); sign the newest decision"
                      : "event \(decisionSeq) is not a decision of candidate \(candidate.id)")
        }
        guard outcome == latest.outcome, policy == latest.policyName else { throw bad("the statement's outcome or policy is not decision \(decisionSeq)'s") }
        let stale = candidate.staleCauses(policies: state.policies)
        if let first = stale.first {
            throw bad("decision \(decisionSeq) is stale (event \(first.seq): \(first.detail)); decide again, then sign the new decision")
        }
        if let earlier = candidate.latestSignOff {
            throw bad("decision \(decisionSeq) was already signed off in event \(earlier.seq)")
        }
        let meaningText = try s.string("meaning")
        guard let meaning = SignOffMeaning(rawValue: meaningText) else {
            throw bad("meaning must be one of \(SignOffMeaning.allCases.map(\.rawValue).joined(separator: ", ")), got \"\(meaningText)\"")
        }
        guard let proposed = Outcome(rawValue: latest.outcome) else { throw bad("decision \(decisionSeq) has no outcome") }
        guard SignOffMeaning.of(confirming: proposed, to: meaning.outcome) == meaning else {
            throw bad(meaning.isOverride
                      ? "decision \(decisionSeq) already proposes \(proposed.rawValue): confirm it instead of overriding"
                      : "decision \(decisionSeq) proposes \(proposed.rawValue): \(meaning.rawValue) would be an override, which needs a reason")
        }
        let reason = try s.optionalString("reason")
        if meaning.isOverride, reason == nil { throw bad("an override needs a reason") }
        if let reason, let why = SignedText.problem(reason, maxLength: 1000, multiline: false) { throw bad("reason must be \(why)") }
        // What only an investigator's signed attestation settles is attested first, never overridden into eligibility.
        if meaning == .overriddenEligible {
            let unattested = latest.results.filter { $0.value == "needs_attestation" }.map(\.key).sorted()
            if !unattested.isEmpty {
                throw bad("decision \(decisionSeq) still needs the attestation of \(unattested.joined(separator: ", ")): attest first (`trialgate attest`), decide again, then sign")
            }
        }
        var g = try ObjectReader(try s.value("signer"), context: "decision.signed statement signer")
        let user = try g.string("user"), printed = try g.string("printed_name"), keyID = try g.string("key_id")
        try g.finish()
        if whole { try checkSigner(user: user, printedName: printed, keyID: keyID, site: candidate.site, event: event, state: state, bad) }
        let signedAt = try s.string("signed_at")
        guard let at = UTCTimestamp(signedAt) else { throw bad("signed_at must be a UTC time, got \"\(signedAt)\"") }
        if abs(at.millisecondsSinceEpoch - event.timestamp.millisecondsSinceEpoch) > SignOffStatement.clockSkewMilliseconds {
            throw bad("signed_at \(signedAt) is more than 5 minutes from the log's time \(event.timestamp); sign again")
        }
        guard try s.string("meaning_text") == meaning.sentence(printedName: printed, user: user, candidate: candidate.id,
                                                                decisionSeq: decisionSeq, proposed: latest.outcome) else {
            throw bad("meaning_text is not the words of \(meaning.rawValue)")
        }
        try s.finish()
    }

    /// The signer of a sign-off or attestation is the acting investigator, in force at the event's time, working at
    /// `site`, with the printed name and key their account registers.
    static func checkSigner(user: String, printedName: String, keyID: String, site: String, event: Event, state: LogState,
                            _ bad: (String) -> TrialGateError) throws {
        guard user == event.actor else { throw bad("the statement is signed by \(user) but the event is \(event.actor)'s") }
        guard let account = state.users[user], account.role == .investigator else { throw bad("\(user) is not an investigator of this trial") }
        guard account.isInForce(at: event.timestamp) else { throw bad("\(user)'s account is not in force") }
        guard account.sites.contains(site) else { throw bad("\(user) does not work at site \(site)") }
        guard printedName == account.printedName, keyID == account.keyID else {
            throw bad("the printed name or key id is not the one \(user)'s account registers")
        }
    }

    /// Checks a `query.*` event against the candidate's queries.
    static func checkQueryEvent(_ event: Event, candidate: CandidateState) throws {
        func bad(_ why: String) -> TrialGateError { TrialGateError(.invalidField, "\(event.type.rawValue): \(why)") }
        var r = try ObjectReader(event.payload, context: event.type.rawValue)
        func text(_ name: String) throws -> String {
            let t = try r.string(name)
            if let why = SignedText.problem(t, maxLength: 2000, multiline: true) { throw bad("\"\(name)\" must be \(why)") }
            return t
        }
        switch event.type {
        case .queryOpened:
            let aboutText = try r.string("about")
            guard let about = ReviewQuery.About(rawValue: aboutText) else {
                throw bad("\"about\" must be one of \(ReviewQuery.About.allCases.map(\.rawValue).joined(separator: ", ")), got \"\(aboutText)\"")
            }
            let criterion = try r.optionalString("criterion")
            let decision = try r.optionalValue("decision").map { v -> Int64 in
                guard let n = v.intValue else { throw bad("\"decision\" must be a decision's sequence number") }
                return Int64(n)
            }
            _ = try text("text")
            if about == .criterion, criterion == nil { throw bad("a query about a criterion names the criterion") }
            if let decision, !candidate.decisions.contains(where: { $0.seq == decision }) {
                throw bad("event \(decision) is not a decision of candidate \(candidate.id)")
            }
            if about == .staleDecision, decision == nil { throw bad("a query about a stale decision names the decision") }
        case .queryAnswered, .queryClosed:
            let seq = Int64(try r.integer("query"))
            guard let query = candidate.query(seq: seq) else { throw bad("event \(seq) is not a query on candidate \(candidate.id)") }
            if query.status == .closed { throw bad("query \(seq) was closed in event \(query.closed!.seq)") }
            if event.type == .queryAnswered {
                _ = try text("note")
                for v in (try r.optionalValue("records")?.arrayValue) ?? [] {
                    guard let n = v.intValue, candidate.record(seq: Int64(n)) != nil else {
                        throw bad("\"records\" must list this candidate's records, got \(CanonicalJSON.string(v))")
                    }
                }
            } else {
                _ = try text("resolution")
            }
        default:
            throw TrialGateError(.invalidEvent, "event \(event.seq): not a query event")
        }
        try r.finish()
    }

    /// Folds a checked lifecycle event (sign-off or query) into its candidate.
    mutating func applyLifecycle(_ event: Event, to c: inout CandidateState) {
        let p = event.payload
        switch event.type {
        case .decisionSigned:
            let s = p["statement"]!
            c.signOffs.append(SignOff(
                seq: event.seq, timestamp: event.timestamp, signer: s["signer"]?["user"]?.stringValue ?? "",
                printedName: s["signer"]?["printed_name"]?.stringValue ?? "", meaning: SignOffMeaning(rawValue: s["meaning"]!.stringValue!)!,
                reason: s["reason"]?.stringValue, decisionSeq: Int64(s["decision"]!["seq"]!.intValue!),
                signedAt: UTCTimestamp(s["signed_at"]!.stringValue!)!, statement: s, signature: p["signature"]!.stringValue!))
        case .queryOpened:
            c.queries.append(ReviewQuery(
                seq: event.seq, candidate: c.id, openedAt: event.timestamp, openedBy: event.actor,
                about: ReviewQuery.About(rawValue: p["about"]!.stringValue!)!, criterion: p["criterion"]?.stringValue,
                decision: p["decision"]?.intValue.map(Int64.init), text: p["text"]!.stringValue!))
        case .queryAnswered:
            let target = Int64(p["query"]!.intValue!)
            if let i = c.queries.firstIndex(where: { $0.seq == target }) {
                c.queries[i].answers.append(.init(seq: event.seq, timestamp: event.timestamp, actor: event.actor, note: p["note"]!.stringValue!,
                                                  records: (p["records"]?.arrayValue ?? []).compactMap { $0.intValue.map(Int64.init) }))
            }
        case .queryClosed:
            let target = Int64(p["query"]!.intValue!)
            if let i = c.queries.firstIndex(where: { $0.seq == target }) {
                c.queries[i].closed = (event.seq, event.timestamp, event.actor, p["resolution"]!.stringValue!)
            }
        default:
            return
        }
    }
}

/// A candidate's screening status, one definition for every view: `withdrawn`, `pending` (no decision yet),
/// `stale` (the newest decision no longer rests on the current data or policy), or the newest decision's outcome.
public enum ScreeningStatus {
    public static func of(withdrawn: Bool, outcome: String?, stale: Bool) -> String {
        if withdrawn { return "withdrawn" }
        guard let outcome else { return "pending" }
        return stale ? "stale" : outcome
    }

    /// The outcome an investigator confirmed (or reached by override) for a current decision, else nil: only a
    /// signed, current decision counts toward enrolment.
    public static func confirmed(withdrawn: Bool, stale: Bool, signOff: SignOff?) -> String? {
        guard !withdrawn, !stale, let signOff else { return nil }
        return signOff.meaning.outcome.rawValue
    }
}

extension CandidateState {
    /// The newest decision's standing as every view shows it: current or stale (and why), its sign-off, and the
    /// outcome that counts toward enrolment.
    public func lifecycleJSON(policies: [PublishedPolicy]) -> JSONValue {
        guard let d = decisions.last else { return .null }
        let causes = staleCauses(policies: policies)
        return [
            "decision_seq": .number(Double(d.seq)), "proposed": .string(d.outcome), "policy": .string(d.policyName),
            "standing": .string(causes.isEmpty ? "current" : "stale"), "stale_causes": .array(causes.map(\.json)),
            "superseded": .array(decisions.dropLast().map { .number(Double($0.seq)) }),
            "signoff": latestSignOff?.json ?? .null,
            "confirmed": .from(ScreeningStatus.confirmed(withdrawn: isWithdrawn, stale: !causes.isEmpty, signOff: latestSignOff)),
        ]
    }

    /// The candidate's status (`ScreeningStatus`).
    public func status(policies: [PublishedPolicy]) -> String {
        ScreeningStatus.of(withdrawn: isWithdrawn, outcome: decisions.last?.outcome, stale: !staleCauses(policies: policies).isEmpty)
    }
}

/// What an investigator signs to attest a criterion (event schema 3): the attestation's own fields, bound to the
/// trial and the candidate, with the signer and the time. The `attestation.recorded` payload carries the same fields
/// flat (`criterion`, `result`, `attested_on`, `statement`, `signer`, `printed_name`, `key_id`, `signed_at`) and the
/// signature, so a verifier rebuilds the statement from the event alone.
public enum AttestationStatement {
    public static let format = "trialgate.attestation/1"
    /// The fields the investigator states; the rest of the payload says who signed and when.
    public static let statedFields = ["criterion", "result", "attested_on", "statement"]

    /// The statement of an attestation payload (with or without its signature) for `candidate` of `trial`.
    public static func of(_ payload: JSONValue, trial: TrialInfo, candidate: String) -> JSONValue {
        var o: [String: JSONValue] = [
            "format": .string(format), "trial_id": .string(trial.trialID), "log_origin": .string(trial.logOrigin), "candidate": .string(candidate),
            "signer": ["user": payload["signer"] ?? .null, "printed_name": payload["printed_name"] ?? .null, "key_id": payload["key_id"] ?? .null],
            "signed_at": payload["signed_at"] ?? .null,
        ]
        for f in statedFields { if let v = payload[f], v != .null { o[f] = v } }
        return .object(o)
    }
}

extension LogState {
    /// A signed attestation (schema 3): signed within 5 minutes of the log's time by the acting investigator, in
    /// force at the candidate's site, with the printed name and key their account registers. The signature is
    /// checked by the writer and the auditor.
    static func checkAttestationSigner(_ event: Event, candidate: CandidateState, state: LogState) throws {
        func bad(_ why: String) -> TrialGateError { TrialGateError(.invalidEvent, "event \(event.seq) (attestation.recorded): \(why)") }
        let p = event.payload
        guard let signature = p["signature"]?.stringValue, SignedText.isCanonicalBase64(signature, bytes: 64) else {
            throw bad("signature must be the canonical base64 of a 64-byte Ed25519 signature")
        }
        // A signed statement is recorded once: replayed later it would bring back what the investigator has since
        // attested otherwise.
        if let earlier = candidate.records.first(where: { $0.type == .attestationRecorded && $0.original["signature"]?.stringValue == signature }) {
            throw bad("this signed attestation was already recorded as event \(earlier.seq)")
        }
        if let text = p["statement"]?.stringValue, let why = SignedText.problem(text, maxLength: 1000, multiline: true) {
            throw bad("statement must be \(why)")
        }
        guard let signedAt = p["signed_at"]?.stringValue, let at = UTCTimestamp(signedAt) else {
            throw bad("signed_at must be a UTC time like 2026-11-30T12:00:00.000Z")
        }
        if abs(at.millisecondsSinceEpoch - event.timestamp.millisecondsSinceEpoch) > SignOffStatement.clockSkewMilliseconds {
            throw bad("signed_at \(signedAt) is more than 5 minutes from the log's time \(event.timestamp); sign again")
        }
        guard state.trial != nil else { return }
        try checkSigner(user: p["signer"]?.stringValue ?? "", printedName: p["printed_name"]?.stringValue ?? "",
                        keyID: p["key_id"]?.stringValue ?? "", site: candidate.site, event: event, state: state, bad)
    }
}
