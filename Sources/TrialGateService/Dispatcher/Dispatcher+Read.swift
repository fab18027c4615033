import Dispatch
import Foundation
import TrialGateAudit
import TrialGateCore
import TrialGateStore

extension Dispatcher {
    func headResult() throws -> JSONValue {
        let store = try requireStore()
        let head = try store.head()
        var result: [String: JSONValue] = ["size": .number(Double(head.size)), "head": .string(head.hash)]
        if head.size > 0, let first = try store.event(seq: 1) {
            result["trial_id"] = first.payload["trial_id"] ?? .null
            result["log_origin"] = first.payload["log_origin"] ?? .null
            let keys = try LogState(partial: try store.events(types: [.trialInitialised, .keyRotated]), head: (0, "")).keys
            result["key_id"] = .from(keys.last?.keyID)
        }
        if let policy = try store.events(types: [.policyPublished]).last {
            result["policy"] = ["id": policy.payload["policy_id"] ?? .null, "version": policy.payload["version"] ?? .null,
                                "sha256": policy.payload["sha256"] ?? .null, "seq": .number(Double(policy.seq))]
        }
        return .object(result)
    }

    /// The trial's signing keys from the log: the one in force and its whole history, each as raw base64,
    /// PEM (SubjectPublicKeyInfo) and C2SP signed-note vkey (the name is the log origin).
    func publicKey() throws -> JSONValue {
        let store = try requireStore()
        let state = try LogState(partial: try store.events(types: [.trialInitialised, .keyRotated]), head: (0, ""))
        guard let trial = state.trial, let current = state.signingKey else { throw TrialGateError(.notInitialised, "the store has no trial key yet") }
        func describe(_ k: SigningKeyRecord) throws -> JSONValue {
            guard let raw = Data(base64Encoded: k.publicKey).map(Array.init), raw.count == 32 else {
                throw TrialGateError(.storeCorrupt, "key \(k.keyID) in event \(k.seq) is not a 32-byte Ed25519 key")
            }
            return ["seq": .number(Double(k.seq)), "key_id": .string(k.keyID), "public_key": .string(k.publicKey),
                    "pem": .string(TrialKey.publicKeyPEM(raw)),
                    "vkey": .string(try NoteVerifierKey(name: trial.logOrigin, publicKey: raw).vkey)]
        }
        guard case .object(var o) = try describe(current) else { return .null }
        o["keys"] = .array(try state.keys.map(describe))
        return .object(o)
    }

    private func b64(_ bytes: [UInt8]) -> JSONValue { .string(Data(bytes).base64EncodedString()) }

    private func checkpointJSON(_ c: EventStore.StoredCheckpoint) -> JSONValue {
        let parsed = try? SignedNote.parse(c.note)
        let checkpoint = parsed.flatMap { try? Checkpoint(text: $0.text) }
        return ["size": .number(Double(c.size)), "issued_at": .string(c.issuedAt), "note": .string(c.note),
                "origin": .from(checkpoint?.origin), "root": checkpoint.map { b64($0.root) } ?? .null]
    }

    func checkpoint(size: Int64?) throws -> JSONValue {
        let store = try requireStore()
        let found = try size.map { try store.checkpoints(from: $0, through: $0).first } ?? store.latestCheckpoint()
        guard let found else {
            throw TrialGateError(.unknownCheckpoint, size.map { "no checkpoint of size \($0) was issued" } ?? "no checkpoint has been issued yet")
        }
        return checkpointJSON(found)
    }

    /// The size a proof is made for when none is given: the newest checkpoint's, so it can be checked against a signed root.
    private func proofSize(_ size: Int64?, store: EventStore) throws -> Int64 {
        let head = try store.head().size
        let n = try size ?? store.latestCheckpoint()?.size ?? head
        guard n >= 1, n <= head else { throw TrialGateError(.invalidField, "tree size \(n) is not between 1 and the log size \(head)") }
        return n
    }

    func inclusionProof(seq: Int64, size: Int64?) throws -> JSONValue {
        let store = try requireStore()
        let n = try proofSize(size, store: store)
        guard seq >= 1, seq <= n else { throw TrialGateError(.invalidField, "event \(seq) is not in the tree of size \(n)") }
        let proof = try Merkle.inclusionProof(index: seq - 1, size: n, store)
        var out: [String: JSONValue] = [
            "seq": .number(Double(seq)), "index": .number(Double(seq - 1)), "size": .number(Double(n)),
            "leaf_hash": b64(try store.node(level: 0, index: seq - 1)), "root": b64(try store.merkleRoot(size: n)),
            "proof": .array(proof.map { b64($0) }),
        ]
        if let c = try store.checkpoints(from: n, through: n).first { out["checkpoint"] = .string(c.note) }
        return .object(out)
    }

    func consistencyProof(from: Int64, to: Int64?) throws -> JSONValue {
        let store = try requireStore()
        let n = try proofSize(to, store: store)
        guard from >= 1, from <= n else { throw TrialGateError(.invalidField, "first size \(from) is not between 1 and \(n)") }
        let proof = try Merkle.consistencyProof(from: from, to: n, store)
        var out: [String: JSONValue] = [
            "from": .number(Double(from)), "to": .number(Double(n)),
            "root1": b64(try store.merkleRoot(size: from)), "root2": b64(try store.merkleRoot(size: n)),
            "proof": .array(proof.map { b64($0) }),
        ]
        if let c = try store.checkpoints(from: from, through: from).first { out["checkpoint1"] = .string(c.note) }
        if let c = try store.checkpoints(from: n, through: n).first { out["checkpoint2"] = .string(c.note) }
        return .object(out)
    }

    func checkPolicy(text: String, file: String) throws -> JSONValue {
        let policy = try PolicyLoader.load(text, file: file)
        return [
            "policy": .string(policy.id), "version": .string(policy.version), "title": .string(policy.title),
            "sha256": .string(Digest.sha256Hex(text)),
            "criteria": .array(policy.criteria.map {
                ["id": .string($0.id), "kind": .string($0.kind.rawValue), "enabled": .bool($0.enabled), "description": .string($0.description)]
            }),
        ]
    }

    func testPolicy(policyText: String, policyFile: String, casesText: String, casesFile: String) throws -> JSONValue {
        let policy = try PolicyLoader.load(policyText, file: policyFile)
        let table = try PolicyCaseTable.load(casesText, file: casesFile)
        let results = table.run(policy)
        return [
            "policy": .string(policy.id), "version": .string(policy.version),
            "passed": .number(Double(results.filter(\.passed).count)), "failed": .number(Double(results.filter { !$0.passed }.count)),
            "cases": .array(results.map { r in
                [
                    "name": .string(r.name), "expected": .string(r.expected.rawValue),
                    "got": .from(r.evaluation?.outcome.rawValue), "ok": .bool(r.passed),
                    "failures": .array(r.failures.map { .string($0) }),
                ]
            }),
        ]
    }

    func show(candidate: String, asOfSeq: Int64?, asOfTime: UTCTimestamp?) throws -> JSONValue {
        if asOfSeq == nil && asOfTime == nil { return try currentShown(candidate: candidate).view }
        var events = try candidateEvents(candidate)
        if let asOfSeq { events = events.filter { $0.seq <= asOfSeq } }
        if let asOfTime { events = events.filter { $0.timestamp <= asOfTime } }
        guard !events.isEmpty else {
            throw TrialGateError(.unknownCandidate, "candidate \"\(candidate)\" was not registered yet at that point")
        }
        let policies = try publishedPolicies().filter { $0.seq <= min(asOfSeq ?? .max, events.last!.seq) && $0.publishedAt <= (asOfTime ?? $0.publishedAt) }
        return Self.warned(try CandidateView.json(foldCandidate(candidate, events), events: events, policies: policies, asOfSeq: asOfSeq, asOfTime: asOfTime),
                           try logWarning(through: events.last!.seq, hash: events.last!.hash))
    }

    /// `view` with the log's warning, when there is one.
    static func warned(_ view: JSONValue, _ warning: String?) -> JSONValue {
        guard let warning, case .object(var o) = view else { return view }
        o["log_warning"] = .string(warning)
        return .object(o)
    }

    /// Why what a reader is about to show, up to event `seq` (whose hash is `hash`, when known), is not vouched for by
    /// a valid signed checkpoint, or nil. Costs one comparison while `seq` is older than the head known to be covered,
    /// or is that head with its hash; otherwise the head is checked (a head rewritten in place keeps its seq).
    func logWarning(through seq: Int64, hash: String? = nil) throws -> String? {
        let covered = coverage.head
        if seq < covered.size || (seq == covered.size && hash == covered.hash) { return nil }
        return try headWarning()
    }

    /// The candidate's view now: the one shown here last while it is current, else built from its events and kept.
    func currentShown(candidate: String) throws -> ShownCandidate {
        let shown = try currentShownUnchecked(candidate: candidate)
        guard let warning = try logWarning(through: shown.seq, hash: shown.hash) else { return shown }
        // Not kept: the warning is about the log now, not part of the candidate's view.
        let view = Self.warned(shown.view, warning)
        return ShownCandidate(registration: shown.registration, seq: shown.seq, hash: shown.hash, site: shown.site, policySeq: shown.policySeq, view: view,
                              encoded: CanonicalJSON.encode(view))
    }

    private func currentShownUnchecked(candidate: String) throws -> ShownCandidate {
        if let shown = try currentView(of: candidate, markUsed: true) { return shown }
        let policies = try publishedPolicies()
        let events = try candidateEvents(candidate)
        let c = try foldCandidate(candidate, events)
        let view = CandidateView.json(c, events: events, policies: policies, asOfSeq: nil, asOfTime: nil)
        let newest = events.last!
        let shown = ShownCandidate(registration: c.registeredSeq, seq: newest.seq, hash: newest.hash, site: c.site,
                                   policySeq: policies.last?.seq ?? 0, view: view,
                                   encoded: CanonicalJSON.encode(view))
        candidateViews.put(shown, for: candidate)
        // Built from the events just read, so current for the rest of this command.
        viewChecks?[candidate] = shown
        return shown
    }

    /// Every policy published, without its text (a view names policies; it does not evaluate them).
    /// Kept while no newer policy is published (policy texts are long, and rarely change).
    func publishedPolicies() throws -> [PublishedPolicy] {
        let store = try requireStore()
        let newest = try store.newestSeq(types: [.policyPublished])
        if let cached = policyHeaders, cached.last?.seq ?? 0 == newest { return cached }
        let policies = try store.events(types: [.policyPublished]).map {
            PublishedPolicy(seq: $0.seq, publishedAt: $0.timestamp, id: $0.payload["policy_id"]?.stringValue ?? "",
                            version: $0.payload["version"]?.stringValue ?? "", sha256: $0.payload["sha256"]?.stringValue ?? "", text: "")
        }
        policyHeaders = policies
        return policies
    }

    /// Every event about a registered candidate, in order.
    func candidateEvents(_ candidate: String) throws -> [Event] {
        let events = try requireStore().events(candidate: candidate)
        guard !events.isEmpty else { throw TrialGateError(.unknownCandidate, "no candidate \"\(candidate)\" is registered") }
        return events
    }

    /// The candidate folded from `events`, its own events up to some point.
    func foldCandidate(_ candidate: String, _ events: [Event]) throws -> CandidateState {
        let state = try LogState(partial: events, head: (events.last!.seq, events.last!.hash))
        guard let c = state.candidates[candidate] else { throw TrialGateError(.internal, "candidate fold failed") }
        return c
    }

    /// A registered candidate folded from all its events (`unknown_candidate` if there is none).
    func foldCandidate(_ candidate: String) throws -> CandidateState { try foldCandidate(candidate, candidateEvents(candidate)) }

    /// Decisions in log order after `after`, filtered; with a `limit`, one page: `next_after` is where the next
    /// page starts (null on the last page). Events are read one at a time, so memory is bounded by the page.
    func listDecisions(candidate: String?, outcome: String?, site: String?, after: Int64 = 0, limit: Int? = nil,
                       standing wanted: String? = nil) throws -> JSONValue {
        let store = try requireStore()
        if let outcome, Outcome(rawValue: outcome) == nil {
            throw TrialGateError(.invalidField, "outcome must be eligible, ineligible or needs_review, got \"\(outcome)\"")
        }
        var rows: [JSONValue] = []
        var nextAfter: Int64?
        // Each decision's standing needs its candidate's later events and the policies published since.
        let policies = try publishedPolicies()
        var folded: [String: CandidateState] = [:]
        func standing(_ e: Event) throws -> (String, JSONValue) {
            guard let id = e.candidate else { return ("current", .null) }
            let c = try folded[id] ?? foldCandidate(id)
            folded[id] = c
            if c.decisions.last?.seq != e.seq {
                return ("superseded", .from(c.decisions.first { $0.seq > e.seq }.map { Int($0.seq) }))
            }
            return (c.staleCauses(policies: policies).isEmpty ? "current" : "stale", c.lifecycleJSON(policies: policies))
        }
        func visit(_ e: Event) throws -> Bool {
            guard e.seq > after, let d = e.payload["decision"] else { return true }
            if let outcome, d["outcome"]?.stringValue != outcome { return true }
            if let site, d["site"]?.stringValue != site { return true }
            let (st, detail) = try standing(e)
            if let wanted, st != wanted { return true }
            if let limit, rows.count == limit {
                // One more match exists: the page is full and another follows.
                nextAfter = rows.last?["seq"]?.intValue.map(Int64.init)
                return false
            }
            let criteria = d["criteria"]?.arrayValue ?? []
            func ids(_ result: String) -> JSONValue {
                .array(criteria.filter { $0["result"]?.stringValue == result }.compactMap { $0["id"] })
            }
            rows.append([
                "seq": .number(Double(e.seq)), "candidate": .from(e.candidate), "site": d["site"] ?? .null,
                "outcome": d["outcome"] ?? .null, "decided_at": d["decided_at"] ?? .null, "decided_by": d["decided_by"] ?? .null,
                "policy": d["policy"] ?? .null, "failed": ids("fail"), "unknown": ids("unknown"), "needs_attestation": ids("needs_attestation"),
                "standing": .string(st), st == "superseded" ? "superseded_by" : "lifecycle": detail,
            ])
            return true
        }
        if let candidate {
            for e in try store.events(candidate: candidate, types: [.decisionIssued]) where try !visit(e) { break }
        } else {
            try store.forEachEvent(types: [.decisionIssued], after: after, visit)
        }
        return ["decisions": .array(rows), "count": .number(Double(rows.count)), "next_after": .from(nextAfter.map(Int.init))]
    }

    /// The whole log folded, up to a sequence number or a time (events are appended in time order,
    /// so the fold stops at the first event after `asOfTime`).
    func fold(asOfSeq: Int64?, asOfTime: UTCTimestamp?) throws -> LogState {
        let store = try requireStore()
        let last = min(asOfSeq ?? .max, try store.head().size)
        var state = LogState()
        try forEachEvent(from: 1, through: last, read: { from, through, body in
            try store.forEachRow(from: from, through: through, body)
        }) { event in
            if let asOfTime, event.timestamp > asOfTime { return false }
            try state.apply(event, strict: true)
            return true
        }
        return state
    }

    /// Hands `body` the events the rows `read` gives for the ranges from `first` up to `last`, in order, parsing
    /// the next chunk on other threads while `body` runs; stops early when `body` returns false.
    func forEachEvent(from first: Int64, through last: Int64, read: (Int64, Int64, (StoredRow) throws -> Void) throws -> Void,
                      _ body: (Event) throws -> Bool) throws {
        let chunkSize: Int64 = 4096
        func chunk(_ from: Int64) throws -> AuditChunk? {
            guard from <= last else { return nil }
            var rows: [StoredRow] = []
            try read(from, min(last, from + chunkSize - 1)) { rows.append($0) }
            let c = AuditChunk(rows: rows, checkBytes: false, parallel: parallelFolds)
            c.start()
            return c
        }
        var next = first
        var current = try chunk(next)
        while let c = current {
            next += chunkSize
            let upcoming = try chunk(next)
            for item in c.wait() {
                guard try body(item.get().event) else { return }
            }
            current = upcoming
        }
    }

    /// One page of events as stored: `from` … `through` (default: the head), at most `limit`. `next_from` is where
    /// the next page starts, null on the last: a reply, and the server's memory for it, stays bounded by the page.
    func export(from: Int64, through: Int64?, limit: Int) throws -> JSONValue {
        let store = try requireStore()
        let page = try logPage(from: from, through: through, limit: limit)
        var lines: [JSONValue] = []
        var last: StoredRow?
        var altered: StoredRow?
        // Exported as stored, even bytes that no longer hash to their hash (an auditor wants to see them), but said.
        try store.forEachRow(from: from, through: page.last) { row in
            if altered == nil, !row.bodyMatchesHash { altered = row }
            lines.append(try row.eventAsStored().json)
            last = row
        }
        var result: [String: JSONValue] = ["events": .array(lines), "next_from": .from(page.next.map(Int.init))]
        if let altered {
            result["log_warning"] = .string(altered.alteredMessage)
        } else if let last, let warning = try logWarning(through: last.seq, hash: last.hash) {
            result["log_warning"] = .string(warning)
        }
        return .object(result)
    }

    /// The last seq of the page of the log from `from`, at most `limit` events up to `through` (default: the head),
    /// and where the next page starts (nil after the last). A page from beyond the end is empty and the last.
    private func logPage(from: Int64, through: Int64?, limit: Int) throws -> (last: Int64, next: Int64?) {
        let end = min(through ?? .max, try requireStore().head().size)
        // Compared before adding, so a `from` near Int64.max cannot overflow.
        let last = from > end ? end : min(end, from + Int64(limit) - 1)
        return (last, last < end ? last + 1 : nil)
    }

    /// One page of the audit trail as CSV (with its header): the events from `from` on, at most `limit`, of one
    /// candidate or of the whole log. `next_from` is where the next page starts, null on the last.
    func auditTrail(candidate: String?, from: Int64, limit: Int) throws -> JSONValue {
        let store = try requireStore()
        var events: [Event]
        var nextFrom: Int64?
        if let candidate {
            events = try store.events(candidate: candidate).filter { $0.seq >= from }
            if events.count > limit {
                nextFrom = events[limit].seq
                events.removeLast(events.count - limit)
            }
        } else {
            let page = try logPage(from: from, through: nil, limit: limit)
            events = try store.events(from: from, through: page.last)
            nextFrom = page.next
        }
        return ["csv": .string(ScreeningReport.csv(ScreeningReport.auditTrail(events))), "next_from": .from(nextFrom.map(Int.init))]
    }

    /// Checks the whole log; with `vkey` (a C2SP verifier key obtained out of band), also that the log's key
    /// history includes that key, so a log rebuilt under another key fails.
    func verify(vkey: String?) throws -> JSONValue {
        let pinned = try vkey.map(Self.parseVKey)
        let report = try audit()
        guard let pinned else { return report.verifyResult }
        var problems = report.problems
        if let problem = Self.untrustedKeyProblem(pinned, state: report.auditor.state) { problems.insert(problem, at: 0) }
        let checked = AuditReport(auditor: report.auditor, problems: problems, structural: report.structural, head: report.head,
                                  reportSnapshotsChecked: report.reportSnapshotsChecked)
        guard case .object(var o) = checked.verifyResult else { return checked.verifyResult }
        o["vkey_in_history"] = .bool(!problems.contains { $0.code == "untrusted_key" })
        return .object(o)
    }

    /// A vkey line, or `invalid_field` naming what is wrong with it.
    static func parseVKey(_ text: String) throws -> NoteVerifierKey {
        do { return try NoteVerifierKey(vkey: text.trimmingCharacters(in: .whitespacesAndNewlines)) } catch {
            throw TrialGateError(.invalidField, "vkey: \"\(text.prefix(80))\" is not a C2SP verifier key (name+keyid+base64 key): \(error)")
        }
    }

    /// `untrusted_key` when `pinned` is not a key of the log's history (a log rebuilt under another key).
    static func untrustedKeyProblem(_ pinned: NoteVerifierKey, state: LogState) -> AuditProblem? {
        guard let trial = state.trial else {
            return AuditProblem(seq: 1, code: "untrusted_key", message: "the log has no trial key to compare the given vkey with")
        }
        let history = state.keys.compactMap { k in
            Data(base64Encoded: k.publicKey).flatMap { try? NoteVerifierKey(name: trial.logOrigin, publicKey: Array($0)) }
        }
        if history.contains(pinned) { return nil }
        return AuditProblem(seq: 1, code: "untrusted_key",
                            message: "the given vkey is not a key of this log's history (\(history.map(\.vkey).joined(separator: ", ")))")
    }

    /// Proves the log extends a checkpoint saved earlier: the checkpoint must be signed by a trusted key (the
    /// given vkey, or a key of the log's own history), name this log, and have the root that the events as
    /// stored give at its size. A shorter log was truncated or rolled back; another root is a fork.
    func verify(againstCheckpoint note: String, vkey: String?) throws -> JSONValue {
        let store = try requireStore()
        let parsedCheckpoint: Checkpoint
        do { parsedCheckpoint = try Checkpoint(text: try SignedNote.parse(note).text) } catch {
            throw TrialGateError(.invalidField, "the checkpoint is not a signed tlog-checkpoint note: \(error)")
        }
        let pinned = try vkey.map(Self.parseVKey)
        let report = try audit(rootAt: parsedCheckpoint.size)
        var problems = report.problems
        let state = report.auditor.state
        var signedBy: String?
        if let trial = state.trial {
            let history = state.keys.compactMap { k in
                Data(base64Encoded: k.publicKey).flatMap { try? NoteVerifierKey(name: trial.logOrigin, publicKey: Array($0)) }
            }
            do {
                signedBy = try SignedNote.open(note, keys: pinned.map { [$0] } ?? history).signedBy.first?.vkey
            } catch {
                problems.append(AuditProblem(seq: parsedCheckpoint.size, code: "checkpoint_signature",
                                             message: "the saved checkpoint is not signed by \(pinned == nil ? "any key of this log's key history" : "the given vkey"): \(error)"))
            }
            // A pinned key must be in the log's own history, or the log is signed by someone else (a swapped key).
            if let pinned, let problem = Self.untrustedKeyProblem(pinned, state: state) { problems.append(problem) }
            if parsedCheckpoint.origin != trial.logOrigin {
                problems.append(AuditProblem(seq: parsedCheckpoint.size, code: "checkpoint_origin",
                                             message: "the checkpoint is of log \(parsedCheckpoint.origin), this log is \(trial.logOrigin)"))
            }
        }
        let size = report.auditor.tree.size
        var consistency: [JSONValue] = []
        if parsedCheckpoint.size > size {
            problems.append(AuditProblem(seq: size, code: "log_truncated",
                                         message: "the checkpoint covers \(parsedCheckpoint.size) events but the log has \(size): it was truncated or rolled back to an older copy"))
        } else if report.rootAtRequested != parsedCheckpoint.root {
            problems.append(AuditProblem(seq: parsedCheckpoint.size, code: "log_forked",
                                         message: "the first \(parsedCheckpoint.size) events do not have the root the checkpoint signed: the log was rewritten"))
        } else if parsedCheckpoint.size >= 1 {
            // The proof a witness would check, from the stored tree, verified against the recomputed roots.
            let proof = try Merkle.consistencyProof(from: parsedCheckpoint.size, to: size, store)
            do {
                try Merkle.verifyConsistency(size1: parsedCheckpoint.size, size2: size, root1: parsedCheckpoint.root,
                                             root2: report.auditor.tree.root, proof: proof)
                consistency = proof.map { b64($0) }
            } catch {
                problems.append(AuditProblem(seq: size, code: "tree_mismatch", message: "the stored tree gives no valid consistency proof: \(error)"))
            }
        }
        problems.sort { $0.seq < $1.seq }
        let checked = AuditReport(auditor: report.auditor, problems: problems, structural: report.structural, head: report.head,
                                  reportSnapshotsChecked: report.reportSnapshotsChecked)
        guard case .object(var o) = checked.verifyResult else { return checked.verifyResult }
        o["checkpoint"] = [
            "size": .number(Double(parsedCheckpoint.size)), "root": b64(parsedCheckpoint.root), "signed_by": .from(signedBy),
            "extends": .bool(!problems.contains { ["log_truncated", "log_forked", "checkpoint_signature", "checkpoint_origin", "untrusted_key"].contains($0.code) }),
            "consistency_proof": .array(consistency),
        ]
        return .object(o)
    }

    /// Reads the whole log through a `LogAuditor`, also checking that the query columns match each body.
    ///
    /// Rows are read in chunks; each chunk is parsed, hashed and checked for canonical form on all cores
    /// while the previous one is folded in order on this thread.
    /// With `rootAt`, also keeps the recomputed root at that size.
    func audit(rootAt requestedSize: Int64? = nil) throws -> AuditReport {
        let store = try requireStore()
        var auditor = LogAuditor()
        var columnProblems: [AuditProblem] = []
        let structural = try store.structuralProblems()
        let chunkSize: Int64 = 4096
        let size = try store.head().size
        func readChunk(_ from: Int64) throws -> [StoredRow] {
            var rows: [StoredRow] = []
            try store.forEachRow(from: from, through: from + chunkSize - 1) { rows.append($0) }
            return rows
        }
        // Stored checkpoints are checked as the fold reaches their size; report snapshots are compared with the
        // fold at theirs.
        var checkpoints = try store.checkpoints()[...]
        // Snapshots an earlier release saved (an older format) are derived data this build cannot read: not checked.
        var snapshotSizes = try store.reportSnapshotSizes().sorted().filter { size in
            guard let saved = try store.reportSnapshot(size: size), let statement = try? JSONParser.parse(saved.statement),
                  let format = statement["format"]?.stringValue else { return true }
            return !ReportSnapshot.olderFormats.contains(format)
        }[...]
        var projected: [(size: Int64, state: ReportState)] = []
        var rootAtRequested: [UInt8]? = requestedSize == 0 ? Merkle.emptyRoot : nil
        var next: Int64 = 1
        var prepared = AuditChunk(rows: try readChunk(next), parallel: parallelFolds)
        next += chunkSize
        prepared.start()
        while true {
            let current = prepared
            let done = current.wait()
            var upcoming: AuditChunk?
            if next <= size {
                upcoming = AuditChunk(rows: try readChunk(next), parallel: parallelFolds)
                next += chunkSize
                upcoming?.start()
            }
            for (row, item) in zip(current.rows, done) {
                switch item {
                case .failure(let error):
                    columnProblems.append(AuditProblem(seq: row.seq, code: "unreadable", message: error.message))
                case .success(let p):
                    let event = p.event
                    // Every column a read goes by must say what the hashed body says: reads by candidate use
                    // `registration_seq`, which must name the candidate's own registration.
                    let registration = event.type == .candidateRegistered ? event.seq
                        : event.candidate.flatMap { auditor.state.candidates[$0]?.registeredSeq }
                    if event.seq != row.seq || event.timestamp.description != row.timestamp || event.actor != row.actor
                        || event.type.rawValue != row.type || event.candidate != row.candidate || event.prevHash != row.prevHash
                        || registration != row.registrationSeq {
                        columnProblems.append(AuditProblem(seq: row.seq, code: "column_mismatch", message: "the table's columns disagree with the hashed body"))
                    }
                    auditor.feed(p)
                    if auditor.tree.size == requestedSize { rootAtRequested = auditor.tree.root }
                    while let n = snapshotSizes.first, n <= auditor.state.size {
                        if n == auditor.state.size { projected.append((n, ReportState(projecting: auditor.state, signaturesCheckedElsewhere: true))) }
                        snapshotSizes.removeFirst()
                    }
                    while let c = checkpoints.first, c.size <= auditor.tree.size {
                        if c.size == auditor.tree.size { auditor.checkCheckpoint(c.note) }
                        checkpoints.removeFirst()
                    }
                }
            }
            guard let u = upcoming else { break }
            prepared = u
        }
        auditor.finish()
        columnProblems += checkReportSnapshots(projected, badSignatures: Set(auditor.problems.filter { $0.code == "bad_signature" }.map(\.seq)))
        for n in snapshotSizes {
            columnProblems.append(AuditProblem(seq: n, code: "report_snapshot", message: "report snapshot \(n) is of events the log does not have"))
        }
        for c in checkpoints {
            columnProblems.append(AuditProblem(seq: c.size, code: "checkpoint_beyond_log", message: "a checkpoint of size \(c.size) was issued but the log has \(auditor.tree.size) events: the tail was cut off"))
        }
        // The stored tree, which proofs are made from, must match the one recomputed from the events.
        if auditor.tree.size > 0, store.maintainsMerkleTree {
            let storedRoot = try? store.merkleRoot(size: auditor.tree.size)
            if storedRoot != auditor.tree.root {
                columnProblems.append(AuditProblem(seq: auditor.tree.size, code: "tree_mismatch", message: "the stored Merkle tree does not match the events"))
            }
        }
        let problems = (auditor.problems + columnProblems).sorted { $0.seq < $1.seq }
        return AuditReport(auditor: auditor, problems: problems, structural: structural, head: try store.head(), rootAtRequested: rootAtRequested,
                           reportSnapshotsChecked: projected.count)
    }
}

extension Dispatcher {
    /// Each saved report snapshot must check out (signature, trial, position, state digest) and hold exactly the
    /// report state of the log folded up to its size, with the signature verdicts the audit found.
    func checkReportSnapshots(_ projected: [(size: Int64, state: ReportState)], badSignatures: Set<Int64>) -> [AuditProblem] {
        projected.compactMap { size, state in
            do {
                let saved = try loadReportSnapshot(size: size)
                var expected = state.candidates
                for (id, c) in expected {
                    guard let latest = c.latest, case .pending = latest.verdict else { continue }
                    expected[id]!.latest!.verdict = badSignatures.contains(latest.seq) ? .invalid : .valid
                }
                guard saved.candidates == expected else {
                    let differing = expected.keys.filter { saved.candidates[$0] != expected[$0] }.sorted().prefix(3)
                        + saved.candidates.keys.filter { expected[$0] == nil }.sorted().prefix(3)
                    return AuditProblem(seq: size, code: "report_snapshot",
                                        message: "report snapshot \(size) is not the fold of the log's first \(size) events (candidates \(differing.joined(separator: ", ")))")
                }
                return nil
            } catch {
                let e = TrialGateError(error)
                if e.code == .snapshotOlderFormat { return nil }
                return AuditProblem(seq: size, code: "report_snapshot", message: e.message)
            }
        }
    }
}

/// A chunk of stored rows being parsed, hashed and checked on background threads.
final class AuditChunk: @unchecked Sendable {
    let rows: [StoredRow]
    /// Also hash the stored bytes and check their canonical form (the audit); a plain fold only parses.
    let checkBytes: Bool
    /// Prepare on two workers of the global queue; otherwise on the thread that waits for the chunk.
    let parallel: Bool
    // Each half is written by exactly one worker and read only after `group.wait()`.
    private var firstHalf: [Result<LogAuditor.Prepared, TrialGateError>] = []
    private var secondHalf: [Result<LogAuditor.Prepared, TrialGateError>] = []
    private let group = DispatchGroup()

    init(rows: [StoredRow], checkBytes: Bool = true, parallel: Bool = true) {
        self.rows = rows
        self.checkBytes = checkBytes
        self.parallel = parallel
    }

    private func prepare(_ part: Range<Int>) -> [Result<LogAuditor.Prepared, TrialGateError>] {
        part.map { i in
            do {
                guard checkBytes else {
                    return .success(LogAuditor.Prepared(event: try rows[i].event(), bodyHash: "", canonical: true, leafHash: []))
                }
                let (event, canonical) = try rows[i].eventCheckingCanonical()
                return .success(LogAuditor.prepare(event, storedBody: rows[i].body, isCanonical: canonical))
            } catch {
                return .failure(TrialGateError(error))
            }
        }
    }

    /// Starts preparing on two workers (halves of the chunk), leaving this thread free to fold.
    func start() {
        guard parallel else { return }
        let half = (rows.count + 1) / 2
        group.enter()
        DispatchQueue.global().async { [self] in
            firstHalf = prepare(0..<half)
            group.leave()
        }
        group.enter()
        DispatchQueue.global().async { [self] in
            secondHalf = prepare(half..<rows.count)
            group.leave()
        }
    }

    /// Waits until the chunk is prepared.
    func wait() -> [Result<LogAuditor.Prepared, TrialGateError>] {
        guard parallel else { return prepare(0..<rows.count) }
        group.wait()
        return firstHalf + secondHalf
    }
}

/// What a full pass over the log found; rendered as `verify` and `replay` results.
struct AuditReport {
    let auditor: LogAuditor
    let problems: [AuditProblem]
    let structural: [String]
    let head: LogHead
    /// The recomputed root at the size `audit(rootAt:)` asked for, if the log reached it.
    var rootAtRequested: [UInt8]? = nil
    /// Saved report snapshots compared with the fold.
    var reportSnapshotsChecked = 0

    var valid: Bool { problems.isEmpty && structural.isEmpty }

    private func problemList() -> JSONValue {
        .array(problems.prefix(50).map { ["seq": .number(Double($0.seq)), "code": .string($0.code), "message": .string($0.message)] })
    }

    var verifyResult: JSONValue {
        var o: [String: JSONValue] = [
            "valid": .bool(valid), "events": .number(Double(auditor.eventsChecked)),
            "signatures_checked": .number(Double(auditor.signaturesChecked)), "head": .string(head.hash),
            "checkpoints_checked": .number(Double(auditor.checkpointsChecked)),
            "report_snapshots_checked": .number(Double(reportSnapshotsChecked)),
            "root": .string(Data(auditor.tree.root).base64EncodedString()),
            "problems": problemList(), "problem_count": .number(Double(problems.count)),
            "structure": .array(structural.map { .string($0) }),
        ]
        if let first = problems.first { o["first_bad_seq"] = .number(Double(first.seq)) }
        return .object(o)
    }

    var replayResult: JSONValue {
        let state = auditor.state
        let decisions = state.candidates.values.reduce(0) { $0 + $1.decisions.count }
        return [
            "events": .number(Double(auditor.eventsChecked)), "candidates": .number(Double(state.candidates.count)),
            "decisions": .number(Double(decisions)), "reproduced": .number(Double(auditor.decisionsReproduced)),
            "mismatched": .number(Double(auditor.decisionsMismatched)), "valid": .bool(valid),
            "state_sha256": .string(Digest.sha256Hex(CanonicalJSON.encode(CandidateView.stateDigestInput(state)))),
            "problems": problemList(),
        ]
    }
}
