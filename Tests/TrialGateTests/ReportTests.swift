import Foundation
import Testing
import TrialGateAudit
import TrialGateCore
import TrialGatePolicies
@testable import TrialGateService
@testable import TrialGateStore

@Suite("Reports for sponsors and regulators")
struct ReportTests {
    func demo() throws -> Fixture {
        let f = try Fixture(policy: ShippedPolicies.sanetEP)
        _ = try DemoScenario(today: f.clock.now().date).run(dispatcher: f.dispatcher, actor: "coordinator")
        return f
    }

    func report(_ f: Fixture, seq: Int64? = nil, site: String? = nil, format: String = "json") throws -> JSONValue {
        try f.run(.report(asOfSeq: seq, asOfTime: nil, site: site, from: nil, to: nil, format: format))
    }

    @Test("CONSORT counts, per-criterion and per-site figures match the known demo log")
    func knownCounts() throws {
        let r = try report(try demo())
        let c = r["consort"]!
        #expect(c["assessed"] == 17 && c["eligible"] == 4 && c["needs_review"] == 3 && c["pending"] == 0)
        // NET-017 was decided eligible, then its ECOG corrected: stale, so no outcome, and no criterion counted.
        #expect(c["stale"] == 1 && c["confirmed"] == ["eligible": 4, "ineligible": 8] && c["awaiting_signoff"] == 3)
        #expect(c["excluded"]?["not_meeting_criteria"] == 8 && c["excluded"]?["withdrawn"] == 1 && c["excluded"]?["total"] == 9)
        #expect(c["excluded"]?["by_criterion"] == ["E1-nec-or-high-grade": 4, "I3-grade": 3, "I3-well-differentiated-net": 1, "I4-prior-therapy": 1,
                                                   "I5-progression-12-months": 1, "I7-bone-marrow": 1, "PUB-ecog": 1])
        let grade = r["criteria"]!.arrayValue!.first { $0["id"] == "I3-grade" }!
        #expect(grade["pass"] == 11 && grade["fail"] == 3 && grade["unknown"] == 1)
        // NET-010's informed consent was never attested.
        let consent = r["criteria"]!.arrayValue!.first { $0["id"] == "I1-informed-consent" }!
        #expect(consent["pass"] == 14 && consent["needs_attestation"] == 1)
        #expect(r["screening_log"]?.arrayValue?.first { $0["candidate"] == "NET-010" }?["needs_attestation"] == ["I1-informed-consent"])
        let site2 = r["sites"]!.arrayValue!.first { $0["site"] == "SITE-02" }!
        #expect(site2["assessed"] == 6 && site2["ineligible"] == 4 && site2["stale"] == 1 && site2["screen_failure_rate"] == 0.8)
        #expect(r["corrections"]?["count"] == 2)
        #expect(r["corrections"]?["items"]?.arrayValue?.first?["old_value"] == 28)
        let log = r["screening_log"]!.arrayValue!
        #expect(log.count == 17)
        #expect(log.first { $0["candidate"] == "NET-017" }?["status"] == "stale")
        #expect(log.first { $0["candidate"] == "NET-001" }?["confirmed"] == "eligible")
        #expect(log.allSatisfy { $0["signature"] == "valid" || $0["status"] == "withdrawn" })
        #expect(log.first { $0["candidate"] == "NET-013" }?["status"] == "withdrawn")
        // Model scores by outcome: NET-010's 0.52 sits in the 0.5–0.6 bin of needs_review.
        #expect(r["model_score_histogram"]?["by_outcome"]?["needs_review"]?.arrayValue?[5] == 1)
    }

    @Test("a site filter keeps only that site's candidates")
    func siteFilter() throws {
        let r = try report(try demo(), site: "SITE-03")
        #expect(r["consort"]?["assessed"] == 5)
        #expect(r["screening_log"]!.arrayValue!.allSatisfy { $0["site"] == "SITE-03" })
    }

    @Test("as of a sequence number equals the report of a store cut at that point")
    func asOfMatchesTruncatedStore() throws {
        let f = try demo()
        let cut: Int64 = 40
        let asOf = try report(f, seq: cut)
        let truncated = try EventStore.create(path: f.dir.path + "/cut.sqlite")
        let events = try f.store.events(through: cut)
        try truncated.write { txn in for e in events { try txn.append(e) } }
        let other = try Dispatcher(store: truncated, clock: f.clock, key: { f.key })
            .execute(.report(asOfSeq: nil, asOfTime: nil, site: nil, from: nil, to: nil, format: "json"), actor: "t")
        for key in ["consort", "screening_log", "criteria", "sites", "corrections", "log_size", "log_head"] {
            #expect(asOf[key] == other[key], "\(key)")
        }
        #expect(asOf["log_size"]?.intValue == Int(cut))
    }

    /// The demo log, then corrections of a registration's site and of a model score, each followed by a decision.
    func demoWithCorrections() throws -> Fixture {
        let f = try demo()
        let events = try f.store.events()
        let registration = events.first { $0.candidate == "NET-001" && $0.type == .candidateRegistered }!
        let score = events.first { $0.type == .modelScoreRecorded }!
        f.clock.advance(seconds: 3600)
        try f.run(.correct(seq: registration.seq, field: "site", value: "SITE-03", reason: "transferred before screening"))
        try f.run(.correct(seq: score.seq, field: "score", value: 0.91, reason: "rescored with the locked model"))
        f.clock.advance(seconds: 3600)
        try f.run(.decide(candidate: score.candidate!))
        try f.run(.decide(candidate: "NET-001"))
        return f
    }

    /// The log size a report as of `seq` or `time` stands at.
    func last(_ f: Fixture, _ seq: Int64?, _ time: UTCTimestamp?) throws -> Int64 {
        var last = min(seq ?? .max, try f.store.head().size)
        if let time { last = min(last, try f.store.size(at: time)) }
        return last
    }

    @Test("the report folds only the kinds of event it needs, and says what the whole fold says at every point of the log")
    func partialFoldMatchesWholeFold() throws {
        let f = try demoWithCorrections()
        let all = try f.store.events()
        #expect(all.contains { $0.type == .entryCorrected && $0.payload["field"] == "percent" })
        let d = f.dispatcher
        let filter = ScreeningReport.Filter()
        func same(_ seq: Int64?, _ time: UTCTimestamp?) throws {
            let whole = ReportState(projecting: try d.fold(asOfSeq: seq, asOfTime: time), signatures: .pending(decisionBody: { try? f.store.event(seq: $0)?.payload["decision"] }))
            let (partial, snapshot, _) = try d.reportState(through: try last(f, seq, time))
            let at = "as of \(seq.map(String.init) ?? "-") \(time?.description ?? "-")"
            #expect(snapshot == nil)
            #expect(partial == whole, "\(at)")
            #expect(ScreeningReport.build(partial, filter: filter, asOf: nil) == ScreeningReport.build(whole, filter: filter, asOf: nil), "\(at)")
        }
        for seq in Int64(1)...Int64(all.count) { try same(seq, nil) }
        for e in all {
            try same(nil, e.timestamp)
            try same(nil, UTCTimestamp(millisecondsSinceEpoch: e.timestamp.millisecondsSinceEpoch - 1))
        }
        try same(nil, nil)
    }

    @Test("a report folded on from a signed snapshot equals the whole fold at every later point, across corrections of older records and a key rotation")
    func snapshotThenTailMatchesWholeFold() throws {
        let f = try demo()
        let first = try f.run(.reportSnapshot)
        #expect(first["folded_from"] == .null)
        let k1 = try f.store.head().size
        // After the snapshot: corrections of records from before it (a registration, a model score, a Ki-67),
        // a withdrawal, a key rotation, decisions signed with the new key, and a second snapshot.
        let events = try f.store.events()
        let registration = events.first { $0.candidate == "NET-002" && $0.type == .candidateRegistered }!
        let score = events.first { $0.type == .modelScoreRecorded }!
        let ki67 = events.first { $0.type == .ki67Recorded && $0.candidate != score.candidate }!
        f.clock.advance(seconds: 3600)
        try f.run(.correct(seq: registration.seq, field: "consent_date", value: .string(f.clock.now().date.description), reason: "re-consented"))
        try f.run(.correct(seq: score.seq, field: "score", value: 0.12, reason: "rescored"))
        try f.run(.correct(seq: ki67.seq, field: "percent", value: 25, reason: "recounted"))
        try f.run(.decide(candidate: ki67.candidate!))
        let newKey = TrialKey.generate()
        _ = try f.dispatcher.rotateKey(to: newKey, actor: "admin")
        try f.run(.decide(candidate: score.candidate!))
        let second = try f.run(.reportSnapshot)
        #expect(second["folded_from"]?.intValue == Int(k1))
        let k2 = try f.store.head().size
        try f.run(.decide(candidate: "NET-002"))
        try f.run(.withdraw(candidate: "NET-003", category: .other, reason: "moved away"))
        #expect(try f.store.reportSnapshotSizes() == [k2, k1])
        let reader = Dispatcher(store: try EventStore.open(path: f.storePath), clock: f.clock, key: { newKey })
        let all = try f.store.head().size
        for seq in Int64(1)...all {
            let whole = ReportState(projecting: try reader.fold(asOfSeq: seq, asOfTime: nil), signatures: .pending(decisionBody: { try? f.store.event(seq: $0)?.payload["decision"] }))
            let (state, snapshot, _) = try reader.reportState(through: seq)
            #expect(snapshot == (seq >= k2 ? k2 : seq >= k1 ? k1 : nil), "as of \(seq)")
            let same = ScreeningReport.build(state, filter: .init(), asOf: nil) == ScreeningReport.build(whole, filter: .init(), asOf: nil)
            #expect(same, "as of \(seq)")
        }
        let log = try report(f)["screening_log"]!.arrayValue!
        #expect(log.allSatisfy { $0["signature"] == "valid" || $0["status"] == "withdrawn" }, "\(log)")
        #expect(log.first { $0["candidate"] == "NET-003" }?["status"] == "withdrawn")
    }

    func deleteSnapshots(_ f: Fixture) throws {
        let (status, output) = try shell(["sqlite3", f.storePath, "DELETE FROM report_snapshots"])
        #expect(status == 0, "\(output)")
    }

    @Test("a snapshot that does not check out is ignored, and the report is the same")
    func tamperedSnapshotIsIgnored() throws {
        let f = try demo()
        _ = try f.run(.reportSnapshot)
        let size = try f.store.head().size
        let expected = CanonicalJSON.encode(try report(f))
        let good = try f.store.reportSnapshot(size: size)!
        let other = TrialKey.generate()
        var flipped = good.state
        flipped[flipped.count / 2] ^= 0x01
        let statement = try JSONParser.parse(good.statement)
        func resigned(_ change: (inout [String: JSONValue]) -> Void, key: TrialKey) -> (String, String) {
            guard case .object(var o) = statement else { return ("", "") }
            change(&o)
            let bytes = CanonicalJSON.encode(.object(o))
            return (String(decoding: bytes, as: UTF8.self), Data(key.sign(bytes)).base64EncodedString())
        }
        let (foreign, foreignSignature) = resigned({ $0["key_id"] = .string(other.keyID) }, key: other)
        let (wrongSize, wrongSizeSignature) = resigned({ $0["log"] = .object(["size": .number(Double(size - 1)), "head": .string(good.head)]) }, key: f.key)
        let cases: [(String, EventStore.StoredReportSnapshot)] = [
            ("state changed after signing", .init(size: size, head: good.head, madeAt: good.madeAt, state: flipped, statement: good.statement, signature: good.signature)),
            ("signed by a key not of this log", .init(size: size, head: good.head, madeAt: good.madeAt, state: good.state, statement: foreign, signature: foreignSignature)),
            ("signed for another position", .init(size: size, head: good.head, madeAt: good.madeAt, state: good.state, statement: wrongSize, signature: wrongSizeSignature)),
            ("signature of another statement", .init(size: size, head: good.head, madeAt: good.madeAt, state: good.state, statement: good.statement, signature: foreignSignature)),
        ]
        for (what, bad) in cases {
            try deleteSnapshots(f)
            try f.store.saveReportSnapshot(bad)
            #expect(throws: TrialGateError.self, "\(what)") { try f.dispatcher.loadReportSnapshot(size: size) }
            #expect(try f.dispatcher.reportState(through: size).snapshot == nil, "\(what)")
            // Saving a new one says why the old one was passed over.
            #expect(try f.run(.reportSnapshot, as: "admin")["ignored"]?.arrayValue?.first?.stringValue?.contains("report snapshot \(size)") == true, "\(what)")
            #expect(try f.dispatcher.reportState(through: size).snapshot == size, "\(what): the new snapshot replaced it")
            #expect(CanonicalJSON.encode(try report(f)) == expected, "\(what)")
        }
        try deleteSnapshots(f)
        try f.store.saveReportSnapshot(good)
        #expect(try f.dispatcher.reportState(through: size).snapshot == size)
        // The store refuses changes in place and snapshots of events that do not exist.
        let (status, output) = try shell(["sqlite3", f.storePath, "UPDATE report_snapshots SET state = x'00'"])
        #expect(status != 0 && output.contains("never changed"), "\(output)")
        #expect(throws: TrialGateError.self) {
            try f.store.saveReportSnapshot(.init(size: size + 1, head: good.head, madeAt: good.madeAt, state: good.state,
                                                 statement: good.statement, signature: good.signature))
        }
    }

    @Test("a damaged snapshot encoding is an error, never a crash: every truncation, every flipped byte")
    func snapshotDecodingIsBounded() throws {
        let f = try demo()
        var state = try f.dispatcher.reportState(through: try f.store.head().size).state
        state.checkSignatures()
        // A decision whose signature failed, on a candidate with a correction: every field comes back.
        state.candidates["NET-012"]!.latest!.verdict = .invalid
        #expect(!state.candidates["NET-012"]!.corrections.isEmpty)
        // More decisions than bytes left after them, on the candidate encoded last.
        state.candidates["NET-017"]!.decisionCount = 1_000
        #expect(state.candidates.keys.max() == "NET-017")
        let bytes = ReportSnapshot.encode(state)
        #expect(try ReportSnapshot.decode(bytes) == state.candidates)
        for n in 0..<bytes.count {
            #expect(throws: (any Error).self, "truncated to \(n) bytes") { try ReportSnapshot.decode(Array(bytes.prefix(n))) }
        }
        #expect(throws: (any Error).self) { try ReportSnapshot.decode(bytes + [0]) }
        var decodedWrong = 0
        for i in 0..<bytes.count {
            for bit in [0x01, 0x80] as [UInt8] {
                var damaged = bytes
                damaged[i] ^= bit
                if let candidates = try? ReportSnapshot.decode(damaged), candidates != state.candidates { decodedWrong += 1 }
            }
        }
        // Some flips still decode (a digit of a date, a letter of a reason): that is what the signed digest is for.
        #expect(decodedWrong > 0)
    }

    @Test("verify compares every saved report snapshot with the fold: one the trial key signed over a wrong state is a problem")
    func verifyRederivesSnapshots() throws {
        let f = try demo()
        _ = try f.run(.reportSnapshot)
        let size = try f.store.head().size
        let honest = try f.run(.verify(), as: "regulator")
        #expect(honest["valid"] == true && honest["report_snapshots_checked"] == 1, "\(honest)")
        // The same state with one outcome changed, encoded, digested and signed exactly as a real one.
        var state = try f.dispatcher.loadReportSnapshot(size: size)
        state.candidates["NET-003"]!.latest!.outcome = "eligible"
        let encoded = ReportSnapshot.encode(state)
        let head = try f.store.hash(seq: size)!
        let statement = CanonicalJSON.encode(ReportSnapshot.statement(trialID: state.trialID!, size: size, head: head,
                                                                      stateSHA256: Digest.sha256Hex(encoded), keyID: f.key.keyID, madeAt: f.clock.now()))
        try f.store.saveReportSnapshot(.init(size: size, head: head, madeAt: f.clock.now().description, state: encoded,
                                             statement: String(decoding: statement, as: UTF8.self), signature: Data(f.key.sign(statement)).base64EncodedString()))
        // It checks out, so a report would use it; verify re-derives it and says which candidate differs.
        #expect(try f.dispatcher.reportState(through: size).snapshot == size)
        let forged = try f.run(.verify(), as: "regulator")
        #expect(forged["valid"] == false)
        let problem = forged["problems"]?.arrayValue?.first { $0["code"] == "report_snapshot" }
        #expect(problem?["seq"]?.intValue == Int(size) && problem?["message"]?.stringValue?.contains("NET-003") == true, "\(forged)")
        // A snapshot whose signature does not hold is a problem too.
        try f.store.saveReportSnapshot(.init(size: size, head: head, madeAt: f.clock.now().description, state: encoded,
                                             statement: String(decoding: statement, as: UTF8.self), signature: Data(TrialKey.generate().sign(statement)).base64EncodedString()))
        let unsigned = try f.run(.verify(), as: "regulator")
        #expect(unsigned["problems"]?.arrayValue?.contains { $0["code"] == "report_snapshot" && $0["message"]?.stringValue?.contains("not signed") == true } == true, "\(unsigned)")
    }

    @Test("the report reads each range of the log by seq, not every event of its types for every range")
    func reportReadIsARangeScan() throws {
        let f = try demo()
        f.store.close()
        let sql = SQLiteLogDatabase.rowsSQL(typesAndCorrected: ReportState.eventTypes)
            .replacingOccurrences(of: "?1", with: "1").replacingOccurrences(of: "?2", with: "4096")
        let (status, plan) = try shell(["sqlite3", f.storePath, "EXPLAIN QUERY PLAN " + sql])
        #expect(status == 0, "\(plan)")
        #expect(plan.contains("USING INTEGER PRIMARY KEY (rowid>? AND rowid<?)"), "\(plan)")
        #expect(!plan.contains("MULTI-INDEX OR"), "\(plan)")
    }

    @Test("folds across several chunks of the log give the same state on one thread (the snapshotter's way) as on three")
    func serialFoldEqualsParallelFold() throws {
        let f = try demo()
        // Past two 4,096-event chunks, with records, corrections and decisions spread over them.
        let ki67: JSONValue = ["percent": 8, "specimen_date": .string(f.clock.now().date.description), "method": "manual_count"]
        var batch: [(command: Command, actor: String)] = []
        for i in 0..<2_800 {
            let id = "CH-\(i)"
            batch += [(.register(candidate: id, fields: ["site": i % 3 == 0 ? "SITE-01" : "SITE-02"]), "coordinator"),
                      (.record(kind: "ki67", candidate: id, fields: ki67), "coordinator"),
                      (.record(kind: "ki67", candidate: id, fields: ki67), "coordinator")]
            if i % 4 == 0 { batch.append((.decide(candidate: id), "coordinator")) }
            if i % 50 == 0 { batch.append((.withdraw(candidate: id, category: .other, reason: "consent withdrawn"), "coordinator")) }
        }
        for part in stride(from: 0, to: batch.count, by: 500) {
            for r in try f.dispatcher.executeBatch(Array(batch[part..<min(part + 500, batch.count)])) { _ = try r.get() }
        }
        let size = try f.store.head().size
        #expect(size > 2 * 4_096)
        var parallel = try f.dispatcher.reportState(through: size).state
        f.dispatcher.parallelFolds = false
        var serial = try f.dispatcher.reportState(through: size).state
        parallel.checkSignatures()
        serial.checkSignatures()
        // Compared by digest: a failure then prints two hashes, not two megabytes.
        #expect(Digest.sha256Hex(ReportSnapshot.encode(serial)) == Digest.sha256Hex(ReportSnapshot.encode(parallel)))
        #expect(serial.candidates.count == parallel.candidates.count && serial.candidates.count > 2_800)
        #expect(try f.run(.verify(), as: "regulator")["valid"] == true)
    }

    @Test("the same log gives byte-identical JSON and CSV")
    func deterministic() throws {
        let f = try demo()
        let other = Dispatcher(store: try EventStore.open(path: f.storePath), clock: f.clock, key: { f.key })
        for format in ["json", "csv"] {
            let a = CanonicalJSON.encode(try report(f, format: format))
            let b = CanonicalJSON.encode(try other.execute(.report(asOfSeq: nil, asOfTime: nil, site: nil, from: nil, to: nil, format: format), actor: "x"))
            #expect(a == b)
        }
        let csv = try report(f, format: "csv")["csv"]!.stringValue!
        #expect(csv.hasPrefix("candidate,site,registered_at,consent_date,status,"))
        #expect(csv.split(separator: "\r\n").count == 18)
    }

    @Test("FHIR ResearchSubject resources carry the research-subject-status codes")
    func fhir() throws {
        let resources = try demo().run(.exportFHIR(site: nil))["resources"]!.arrayValue!
        #expect(resources.count == 17)
        let allowed: Set<String> = ["candidate", "eligible", "follow-up", "ineligible", "not-registered", "off-study", "on-study",
                                    "on-study-intervention", "on-study-observation", "pending-on-study", "potential-candidate",
                                    "screening", "withdrawn"]
        for r in resources {
            #expect(r["resourceType"] == "ResearchSubject")
            #expect(allowed.contains(r["status"]?.stringValue ?? ""))
            #expect(r["study"]?["reference"]?.stringValue?.hasPrefix("ResearchStudy/") == true)
            #expect(r["individual"]?["identifier"]?["value"] == r["identifier"]?.arrayValue?.first?["value"])
        }
        #expect(resources.first { $0["id"] == "NET-013" }?["status"] == "withdrawn")
        #expect(resources.first { $0["id"] == "NET-010" }?["status"] == "screening")
    }

    @Test("the audit-trail CSV has who, what, when, old value, new value and reason, quoted per RFC 4180")
    func auditTrail() throws {
        let csv = try demo().run(.auditTrail(candidate: "NET-012"))["csv"]!.stringValue!
        let lines = csv.components(separatedBy: "\r\n")
        #expect(lines[0] == "seq,timestamp_utc,actor,candidate,action,field,old_value,new_value,reason,site,corrects_seq,policy")
        #expect(lines.contains { $0.contains(",entry.corrected,percent,28,18,transcription error: pathology report says 18 %") })
        #expect(lines.contains { $0.contains(",contrast_phases,,\"[\"\"arterial\"\",\"\"portal_venous\"\"]\",") })
    }

    @Test("export and the audit trail come in pages: bounded replies whose pages join into the whole", arguments: [1, 7, 30, 10_000])
    func pagedExports(limit: Int) throws {
        let f = try demo()
        let all = try f.store.events()
        var exported: [JSONValue] = []
        var next: Int64? = 1
        var pages = 0
        while let from = next {
            let page = try f.run(.export(from: from, through: nil, limit: limit), as: "regulator")
            let events = page["events"]!.arrayValue!
            #expect(events.count <= limit)
            exported += events
            next = page["next_from"]?.intValue.map(Int64.init)
            pages += 1
        }
        #expect(exported == all.map(\.json))
        #expect(pages == (all.count + limit - 1) / limit)
        // A range ending before the head stops there.
        let ranged = try f.run(.export(from: 5, through: 9, limit: limit), as: "regulator")
        #expect(ranged["events"]!.arrayValue!.compactMap { $0["seq"]?.intValue }.first == 5)
        #expect(ranged["next_from"] == (limit < 5 ? .number(Double(5 + limit)) : .null))

        let whole = try f.run(.auditTrail(candidate: nil, from: 1, limit: 10_000))["csv"]!.stringValue!
        for candidate in [nil, "NET-012"] as [String?] {
            let expected = candidate == nil ? whole : try f.run(.auditTrail(candidate: candidate, from: 1, limit: 10_000))["csv"]!.stringValue!
            var joined = ""
            next = 1
            while let from = next {
                let page = try f.run(.auditTrail(candidate: candidate, from: from, limit: limit))
                let csv = page["csv"]!.stringValue!
                #expect(csv.hasPrefix("seq,timestamp_utc,actor,"))
                joined += from == 1 ? csv : String(csv[csv.range(of: "\r\n")!.upperBound...])
                next = page["next_from"]?.intValue.map(Int64.init)
            }
            #expect(joined == expected, "\(candidate ?? "whole log")")
        }
    }

    @Test("a page out of range is refused, naming the field; one beyond the log is empty and the last")
    func pageLimits() throws {
        let f = try demo()
        for request in [#"{"cmd":"export","from":9007199254740991}"#, #"{"cmd":"audit-trail","from":9007199254740991}"#,
                        #"{"cmd":"export","from":5000,"through":6000}"#] {
            let r = try f.dispatcher.execute(try Command.parse(try JSONParser.parse(request)), actor: "regulator")
            #expect(r["next_from"] == .null && (r["events"]?.arrayValue?.isEmpty ?? (r["csv"]?.stringValue?.split(separator: "\r\n").count == 1)), "\(request): \(r)")
        }
        for request in [#"{"cmd":"export","limit":0}"#, #"{"cmd":"export","limit":10001}"#, #"{"cmd":"audit-trail","from":0}"#] {
            #expect { try Command.parse(try JSONParser.parse(request)) } throws: { error in
                let e = error as? TrialGateError
                return e?.code.rawValue == "invalid_field" && (e?.message.contains("limit") == true || e?.message.contains("from") == true)
            }
        }
    }
}

@Suite("The HTML report")
struct ReportHTMLTests {
    @Test("is one self-contained page: inline SVG charts, no scripts, no external assets, text escaped")
    func selfContained() throws {
        let f = try Fixture(policy: ShippedPolicies.sanetEP)
        _ = try DemoScenario(today: f.clock.now().date).run(dispatcher: f.dispatcher, actor: "coordinator")
        try f.run(.register(candidate: "X-1", fields: ["site": "SITE-01"]))
        try f.run(.withdraw(candidate: "X-1", category: .other, reason: "<script>alert(1)</script> & more"))
        let html = try f.run(.report(asOfSeq: nil, asOfTime: nil, site: nil, from: nil, to: nil, format: "html"))["html"]!.stringValue!
        #expect(html.hasPrefix("<!DOCTYPE html>"))
        #expect(html.contains("aria-label=\"CONSORT enrolment flow\""))
        #expect(html.contains("Assessed for eligibility (n=18)"))
        #expect(html.contains("aria-label=\"Screen-failure reasons\""))
        #expect(html.contains("aria-label=\"Model score histogram\""))
        #expect(!html.contains("<script"))
        #expect(html.contains("&lt;script&gt;alert(1)&lt;/script&gt; &amp; more"))
        let external = html.components(separatedBy: "http").dropFirst().filter { !$0.hasPrefix("://www.w3.org/2000/svg") && !$0.hasPrefix("-equiv=\"Content-Security-Policy\"") }
        #expect(external.isEmpty)
        let again = try f.run(.report(asOfSeq: nil, asOfTime: nil, site: nil, from: nil, to: nil, format: "html"))["html"]!.stringValue!
        #expect(html == again)
        #expect(html.contains("<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:;"))
    }

    @Test("the page the PDF's Chromium opens carries the policy first, whatever HTML it is given")
    func guardedPage() throws {
        let meta = "<meta http-equiv=\"Content-Security-Policy\" content=\"\(ReportHTML.contentSecurityPolicy)\">"
        for hostile in ["<!DOCTYPE html><script>fetch('http://203.0.113.9/')</script><img src=file:///etc/passwd>",
                        "<script>1</script><html><head></head></html>", ""] {
            let page = ReportHTML.guarded(hostile)
            let at = try #require(page.range(of: meta)).lowerBound
            #expect(page[..<at] == "" || page[..<at] == "<!DOCTYPE html>\n", "\(page)")
            #expect(page.hasSuffix(hostile.hasPrefix("<!DOCTYPE html>") ? String(hostile.dropFirst(15)) : hostile))
        }
    }

    @Test("a forged log's texts (a withdrawal category and reason, an actor) reach the page, and the PDF's Chromium, escaped: no tag, no fetch")
    func forgedTextsEscaped() throws {
        let f = try Fixture(policy: ShippedPolicies.sanetEP)
        try f.run(.register(candidate: "X-1", fields: ["site": "SITE-01"]))
        try f.run(.withdraw(candidate: "X-1", category: .other, reason: "moved"))
        let hostile = "<img src=file:///etc/passwd><iframe src=\"http://203.0.113.9/\"></iframe><link rel=stylesheet href=x><style>*{background:url(http://203.0.113.9/)}</style>"
        let forged = try f.forgedCopy { event, draft in
            if event.type == .candidateWithdrawn { draft.payload = ["category": .string(hostile), "reason": .string(hostile)] }
            if event.type == .candidateRegistered { draft.actor = hostile }
        }
        let html = try Dispatcher(store: forged, clock: f.clock, key: { f.key })
            .perform(.report(asOfSeq: nil, asOfTime: nil, site: nil, from: nil, to: nil, format: "html"), actor: "sponsor").decode(ReportHTMLReply.self).html
        for tag in ["<img", "<iframe", "<link", "<style>*"] { #expect(!html.contains(tag), "\(tag)") }
        #expect(html.contains("&lt;img src=file:///etc/passwd&gt;"))
    }
}

@Suite("Reports of a forged log")
struct ForgedLogReportTests {
    /// A sponsor's report and a regulator's verify of a forged copy of `f`'s log.
    static func reportAndVerify(_ forged: EventStore, _ f: Fixture) throws -> (ReportReply, VerifyReply) {
        let dispatcher = Dispatcher(store: forged, clock: f.clock, key: { f.key })
        let report = try dispatcher.perform(.report(asOfSeq: nil, asOfTime: nil, site: nil, from: nil, to: nil, format: "json"), actor: "sponsor")
        return (try report.decode(ReportReply.self), try dispatcher.perform(.verify(), actor: "regulator").decode(VerifyReply.self))
    }

    @Test("a forged model score outside 0…1 is reported by verify and left out of the report's histogram, never crashing it",
          arguments: [-5.0, 1e300, 7.5])
    func forgedModelScore(score: Double) throws {
        let f = try Fixture(policy: ShippedPolicies.sanetEP)
        _ = try DemoScenario(today: f.clock.now().date).run(dispatcher: f.dispatcher, actor: "coordinator")
        let forged = try f.forgedCopy { event, draft in
            if event.type == .modelScoreRecorded, case .object(var fields) = draft.payload {
                fields["score"] = .number(score)
                draft.payload = .object(fields)
            }
        }
        let (report, verify) = try Self.reportAndVerify(forged, f)
        #expect(report.logWarning != nil)
        #expect(!verify.valid)
        #expect(verify.problems.contains { $0.code == "invalid_event" && $0.message.contains("score") })
    }

    @Test("a report, like every view, shows a forged log whose payloads a decoder refuses; verify says what is wrong")
    func forgedPayloadShapes() throws {
        let f = try Fixture(policy: ShippedPolicies.sanetEP)
        _ = try DemoScenario(today: f.clock.now().date).run(dispatcher: f.dispatcher, actor: "coordinator")
        let forged = try f.forgedCopy { event, draft in
            guard case .object(var fields) = draft.payload else { return }
            switch event.type {
            case .trialInitialised, .decisionIssued: fields["extra"] = "x"
            case .candidateWithdrawn: fields["reason"] = 5
            case .decisionSigned:
                guard case .object(var statement) = fields["statement"] else { return }
                statement["signed_at"] = "yesterday"
                fields["statement"] = .object(statement)
            default: return
            }
            draft.payload = .object(fields)
        }
        let (report, verify) = try Self.reportAndVerify(forged, f)
        #expect(report.logWarning != nil)
        #expect(verify.problems.first?.code == "invalid_event")
    }

    @Test("decisions shows a forged decision's members as stored, whatever their type")
    func forgedDecisionMembers() throws {
        let f = try Fixture(policy: ShippedPolicies.sanetEP)
        _ = try DemoScenario(today: f.clock.now().date).run(dispatcher: f.dispatcher, actor: "coordinator")
        // Candidates whose decisions nobody signed off: a sign-off repeats its decision's outcome, and the fold checks that.
        let signed = Set(try f.store.events().filter { $0.type == .decisionSigned }.compactMap(\.candidate))
        let forged = try f.forgedCopy { event, draft in
            guard event.type == .decisionIssued, !signed.contains(event.candidate ?? ""), case .object(var fields) = draft.payload,
                  case .object(var d) = fields["decision"] else { return }
            (d["outcome"], d["site"]) = (42, ["S1"])
            fields["decision"] = .object(d)
            draft.payload = .object(fields)
        }
        let dispatcher = Dispatcher(store: forged, clock: f.clock, key: { f.key })
        let rows = try dispatcher.perform(.decisions(candidate: nil, outcome: nil, site: nil, after: 0, limit: nil, standing: nil), actor: "sponsor")
            .decode(DecisionsReply.self).decisions
        let forgedRows = rows.filter { !signed.contains($0.candidate ?? "") }
        #expect(!forgedRows.isEmpty)
        #expect(forgedRows.allSatisfy { $0.outcome == 42 && $0.site == ["S1"] })
    }

    static let forgedTrailCases: [(EventType, JSONValue, [String])] = [
        (.candidateWithdrawn, ["reason": 5], ["status", "", "withdrawn", "5", "", "", ""]),
        (.decisionIssued, ["decision": ["outcome": 42, "policy": ["id": "p", "version": "1"]], "signature": "s", "extra": "x"] as JSONValue,
         ["outcome", "", "42", "", "", "", "p@1"]),
        (.policyPublished, ["policy_id": "p", "version": "2"], ["policy", "", "p@2", "", "", "", "p@2"]),
        (.trialInitialised, ["trial_id": "T-9", "extra": true], ["trial", "", "T-9", "", "", "", ""]),
        (.entryCorrected, ["corrects": 3, "field": "ecog", "new_value": 2], ["ecog", "", "2", "", "", "3", ""]),
    ]

    @Test("the audit trail lists a forged log's payloads as stored, whatever their shape", arguments: Self.forgedTrailCases)
    func forgedAuditTrail(type: EventType, payload: JSONValue, row: [String]) throws {
        let draft = EventDraft(timestamp: UTCTimestamp("2026-07-01T09:00:00.000Z")!, actor: "x", type: type, candidate: "C-1", payload: payload)
        let rows = ScreeningReport.auditTrail([HashChain.seal(draft, seq: 7, prevHash: Event.genesisHash)])
        #expect(rows.count >= 2)
        #expect(Array(rows[1].dropFirst(5)) == row)
    }
}
