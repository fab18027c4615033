import Foundation
import TrialGateAudit
import TrialGateCore

/// What a screening report is computed from: the log folded down to the trial, its keys and, per candidate,
/// only what a report shows. Folded from the events of `eventTypes` (and the records corrections name); small
/// enough to be saved as a signed snapshot and folded on from there.
struct ReportState: Equatable {
    /// The events a report reads. Clinical, imaging, Ki-67, mitotic and SSTR records enter a report only
    /// through decisions and corrections, and policies only by their id, version and date, so most of a large
    /// log is neither parsed nor kept.
    static let eventTypes: [EventType] = {
        let read: [EventType] = [.trialInitialised, .keyRotated, .policyPublished, .candidateRegistered, .modelScoreRecorded,
                                 .entryCorrected, .candidateWithdrawn, .decisionIssued, .decisionSigned] + EventType.queryEvents
        // Every other event that changes what a decision rests on only says that a decision before it is stale. Taken
        // from `changesCandidateData`, so that a new record kind (radiomics.recorded was missed) is never left out:
        // a report that skipped one showed a stale decision as current, and its signed snapshot failed `verify`.
        return read + EventType.allCases.filter { $0.changesCandidateData && !read.contains($0) }
    }()

    var trialID: String?
    var keys: [SigningKeyRecord] = []
    /// Every policy published, in log order (read from the log, never from a snapshot, like the keys).
    var policies: [PublishedPolicy] = []
    var candidates: [String: ReportCandidate] = [:]
    /// The log position the state stands at.
    var size: Int64 = 0
    var headHash = Event.genesisHash

    /// Folds the next event of the report's kinds (or a record a later correction names; other events are
    /// ignored). `recordType` gives the type of a record a correction names that this state has not seen
    /// (a record before a snapshot): corrections are rare, so it may read the log.
    mutating func apply(_ event: Event, recordType: (Int64) throws -> EventType?) throws {
        func fail(_ why: String) -> TrialGateError {
            TrialGateError(.invalidEvent, "event \(event.seq) (\(event.type.rawValue)): \(why)")
        }
        defer {
            size = max(size, event.seq)
            if size == event.seq { headHash = event.hash }
        }
        switch event.type {
        // A report is a view, and a view never refuses a log `verify` would report: a payload its decoder refuses (a
        // forged log's) is read member by member as stored, as far as the report needs it, as reports always have.
        case .trialInitialised:
            let p = event.payload
            let trial = try? TrialInfo(payloadOf: event)
            guard let id = trial?.trialID ?? p["trial_id"]?.stringValue, let key = trial?.publicKey ?? p["public_key"]?.stringValue,
                  let keyID = trial?.keyID ?? p["key_id"]?.stringValue else { throw fail("no trial id or key") }
            trialID = id
            keys = [SigningKeyRecord(seq: event.seq, publicKey: key, keyID: keyID)]
            return
        case .keyRotated:
            let p = event.payload
            let rotation = try? KeyRotation(payloadOf: event)
            guard let key = rotation?.publicKey ?? p["public_key"]?.stringValue, let keyID = rotation?.keyID ?? p["key_id"]?.stringValue
            else { throw fail("no key") }
            keys.append(SigningKeyRecord(seq: event.seq, publicKey: key, keyID: keyID))
            return
        case .policyPublished:
            // The text is not kept: a report names policies, it does not evaluate them.
            if let policy = try? PublishedPolicy(payloadOf: event) {
                policies.append(policy.withoutText)
                return
            }
            let p = event.payload
            guard let id = p["policy_id"]?.stringValue, let version = p["version"]?.stringValue, let sha = p["sha256"]?.stringValue else {
                throw fail("no policy id, version or digest")
            }
            policies.append(PublishedPolicy(seq: event.seq, publishedAt: event.timestamp, id: id, version: version, sha256: sha, text: ""))
            return
        default:
            break
        }
        guard let id = event.candidate else { throw fail("no candidate") }
        if event.type == .candidateRegistered {
            candidates[id] = ReportCandidate(id: id, registeredSeq: event.seq, registeredAt: event.timestamp,
                                             site: Registration.site(event.payload), consentDate: Registration.consentDate(event.payload))
            return
        }
        guard var c = candidates[id] else { throw fail("no candidate \"\(id)\" is registered") }
        // Written back even when a check below throws: a fold that throws is abandoned whole.
        defer { candidates[id] = c }
        if c.latest != nil, let cause = StaleCause.of(event) { c.changesSinceDecision.append(cause) }
        try applyToCandidate(event, &c, candidate: id, recordType: recordType, fail)
    }

    /// Folds an event about a registered candidate into `c` (its registration aside).
    private func applyToCandidate(_ event: Event, _ c: inout ReportCandidate, candidate id: String, recordType: (Int64) throws -> EventType?,
                                  _ fail: (String) -> TrialGateError) throws {
        switch event.type {
        case .modelScoreRecorded:
            // A record's fields, as its `RecordSchema` describes them.
            let p = event.payload
            c.scores.append((event.seq, p["score"] ?? .null, p["study_date"]?.stringValue ?? ""))
        case .imagingRecorded, .ki67Recorded, .mitoticCountRecorded, .sstrRecorded, .clinicalRecorded, .pathologyRecorded, .attestationRecorded:
            break  // its type is looked up if a correction names it
        case .entryCorrected:
            try Self.applyCorrection(event, to: &c, candidate: id, recordType: recordType, fail)
        case .candidateWithdrawn:
            if let w = try? Withdrawal(payloadOf: event) {
                c.withdrawal = (event.seq, w.category, w.reason, event.timestamp)
            } else {
                // A forged log's: its members as stored, as far as they make sense (`verify` reports it).
                let p = event.payload
                c.withdrawal = (event.seq, p["category"]?.stringValue.flatMap(WithdrawalCategory.init), p["reason"]?.stringValue, event.timestamp)
            }
        case .decisionIssued:
            let d = try Self.decision(event, fail)
            c.decisionCount += 1
            if c.firstDecisionAt == nil { c.firstDecisionAt = event.timestamp }
            c.latest = ReportDecision(seq: event.seq, timestamp: event.timestamp, outcome: d.outcome, results: d.results,
                                      verdict: verdict(event.payload["decision"] ?? .null, signature: d.signature), policy: d.policyName)
            c.changesSinceDecision = []
            c.signOff = nil
        case .decisionSigned:
            c.signOff = try Self.signOff(event, of: c.latest?.seq, fail)
        case .queryOpened:
            let about = (try? ReviewQuery(payloadOf: event))?.about.rawValue ?? event.payload["about"]?.stringValue ?? ""
            c.queries.append(ReportQuery(seq: event.seq, openedAt: event.timestamp, about: about, answered: false, closedAt: nil))
        case .queryAnswered, .queryClosed:
            let target = (try? ReviewQuery.target(of: event)) ?? event.payload["query"]?.intValue.map(Int64.init)
            guard let target, let i = c.queries.firstIndex(where: { $0.seq == target }) else { throw fail("not a query of candidate \"\(id)\"") }
            if event.type == .queryAnswered { c.queries[i].answered = true } else { c.queries[i].closedAt = event.timestamp }
        default:
            // A record that changes what a decision rests on (its staleness noted above) and that no report counts.
            guard event.type.changesCandidateData else { throw fail("unexpected event type") }
        }
    }

    /// Folds a correction into `c`: the registration's site and consent date, a model score or its study date, or
    /// only the type of the record it names, which `recordType` looks up when this state has not seen it.
    private static func applyCorrection(_ event: Event, to c: inout ReportCandidate, candidate id: String,
                                        recordType: (Int64) throws -> EventType?, _ fail: (String) -> TrialGateError) throws {
        guard let correction = EntryCorrection(event) else { throw fail("not a correction") }
        let (target, field, reason, new) = (correction.corrects, correction.field, correction.reason, correction.newValue)
        let type: EventType
        if target == c.registeredSeq {
            type = .candidateRegistered
            let fields = correction.applied(to: ["site": .string(c.site), "consent_date": c.consentDate])
            (c.site, c.consentDate) = (Registration.site(fields), Registration.consentDate(fields))
        } else if let i = c.scores.firstIndex(where: { $0.seq == target }) {
            type = .modelScoreRecorded
            if field == "score" { c.scores[i].score = new }
            if field == "study_date" { c.scores[i].observed = new.stringValue ?? "" }
        } else if let known = c.correctedRecords[target] {
            type = known
        } else if let found = try recordType(target), found != .candidateRegistered, found != .modelScoreRecorded {
            type = found
            c.correctedRecords[target] = found
        } else {
            throw fail("event \(target) is not a record of candidate \"\(id)\"")
        }
        c.corrections.append(ReportCorrection(seq: event.seq, timestamp: event.timestamp, actor: event.actor, corrects: target,
                                              record: type, field: field, oldValue: correction.oldValue, newValue: new, reason: reason))
    }

    /// A decision as the report keeps it: decoded, or (a forged log's) read from the stored members it needs.
    private static func decision(_ event: Event, _ fail: (String) -> TrialGateError) throws -> DecisionSummary {
        guard let d = DecisionSummary(storedIn: event) else { throw fail("no decision") }
        return d
    }

    /// A sign-off of the candidate's newest decision (`latest`) as the report keeps it: decoded, or (a forged log's)
    /// read from the stored statement's members it needs.
    private static func signOff(_ event: Event, of latest: Int64?, _ fail: (String) -> TrialGateError) throws -> ReportSignOff {
        if let s = try? SignOff(payloadOf: event) {
            guard s.decisionSeq == latest else { throw fail("not a sign-off of the candidate's newest decision") }
            return ReportSignOff(seq: event.seq, timestamp: event.timestamp, signer: event.actor, printedName: s.printedName,
                                 meaning: s.meaning, reason: s.reason)
        }
        let s = event.payload["statement"] ?? .null
        guard let meaning = s["meaning"]?.stringValue.flatMap(SignOffMeaning.init), s["decision"]?["seq"]?.intValue.map(Int64.init) == latest
        else { throw fail("not a sign-off of the candidate's newest decision") }
        return ReportSignOff(seq: event.seq, timestamp: event.timestamp, signer: event.actor,
                             printedName: s["signer"]?["printed_name"]?.stringValue ?? "", meaning: meaning, reason: s["reason"]?.stringValue)
    }

    /// The key a decision is checked with: the key in force where it stands (the newest key folded so far),
    /// which the decision must name.
    /// The public key in force, if it is the one named `keyID`.
    private func signingKey(named keyID: String?) -> [UInt8]? {
        guard let key = keys.last, keyID == key.keyID else { return nil }
        return Data(base64Encoded: key.publicKey).map(Array.init)
    }

    private func verdict(_ decision: JSONValue, signature: String) -> SignatureVerdict {
        guard let publicKey = signingKey(named: decision["key_id"]?.stringValue) else { return .invalid }
        return .pending(message: Decision.signedBytes(of: decision), signature: Data(base64Encoded: signature).map(Array.init) ?? [],
                        publicKey: publicKey)
    }

    /// Settles the pending signature checks of the candidates `include` selects, on every core.
    mutating func checkSignatures(of include: (ReportCandidate) -> Bool = { _ in true }) {
        let batch = SignatureBatch()
        var pending: [String] = []
        for (id, c) in candidates where include(c) {
            guard let latest = c.latest, case .pending(let message, let signature, let publicKey) = latest.verdict else { continue }
            batch.add(seq: latest.seq, signature: signature, message: message, publicKey: publicKey)
            pending.append(id)
        }
        let bad = Set(batch.finish())
        for id in pending {
            candidates[id]!.latest!.verdict = bad.contains(candidates[id]!.latest!.seq) ? .invalid : .valid
        }
    }
}

extension ReportState {
    /// How a projection settles the signature verdicts of the candidates' latest decisions.
    enum ProjectedSignatures {
        /// Left pending without their message: the caller settles them from its own checks (encoding every decision
        /// again would cost seconds on a large log).
        case checkedElsewhere
        /// Pending with their message, from the signed decision of a `decision.issued` seq (the state keeps no decision
        /// bodies: they stay in the log).
        case pending(decisionBody: (Int64) -> JSONValue?)
    }

    /// The report state of a whole fold: an independent derivation the report's own fold is tested against,
    /// and `verify` compares saved snapshots with.
    init(projecting state: LogState, signatures: ProjectedSignatures) {
        trialID = state.trial?.trialID
        keys = state.keys
        policies = state.policies.map(\.withoutText)
        size = state.size
        headHash = state.headHash
        for c in state.candidates.values {
            let registration = c.records[0]
            var r = ReportCandidate(id: c.id, registeredSeq: c.registeredSeq, registeredAt: registration.timestamp, site: c.site,
                                    consentDate: registration.current["consent_date"] ?? .null)
            for record in c.records.dropFirst() {
                if record.type == .modelScoreRecorded {
                    r.scores.append((record.seq, record.current["score"] ?? .null, record.current["study_date"]?.stringValue ?? ""))
                } else if !record.corrections.isEmpty {
                    r.correctedRecords[record.seq] = record.type
                }
            }
            r.decisionCount = c.decisions.count
            r.firstDecisionAt = c.decisions.first?.timestamp
            if let d = c.decisions.last {
                let inForce = ReportState(trialID: nil, keys: state.keys.filter { $0.seq < d.seq })
                let verdict: SignatureVerdict
                switch signatures {
                case .checkedElsewhere:
                    verdict = inForce.signingKey(named: d.keyID) != nil ? .pending(message: [], signature: [], publicKey: []) : .invalid
                case .pending(let decisionBody):
                    verdict = inForce.verdict(decisionBody(d.seq) ?? .null, signature: d.signature)
                }
                r.latest = ReportDecision(seq: d.seq, timestamp: d.timestamp, outcome: d.outcome, results: d.results, verdict: verdict,
                                          policy: d.policyName)
            }
            r.withdrawal = c.withdrawal.map { ($0.seq, $0.category, $0.reason, $0.timestamp) }
            r.changesSinceDecision = c.changesSinceDecision
            r.signOff = c.latestSignOff.map {
                ReportSignOff(seq: $0.seq, timestamp: $0.timestamp, signer: $0.signer, printedName: $0.printedName, meaning: $0.meaning, reason: $0.reason)
            }
            r.queries = c.queries.map {
                ReportQuery(seq: $0.seq, openedAt: $0.openedAt, about: $0.about.rawValue, answered: !$0.answers.isEmpty, closedAt: $0.closed?.timestamp)
            }
            r.corrections = c.records.flatMap { record in
                record.corrections.map {
                    ReportCorrection(seq: $0.seq, timestamp: $0.timestamp, actor: $0.actor, corrects: record.seq, record: record.type,
                                     field: $0.field, oldValue: $0.oldValue, newValue: $0.newValue, reason: $0.reason)
                }
            }.sorted { $0.seq < $1.seq }
            candidates[c.id] = r
        }
    }
}
