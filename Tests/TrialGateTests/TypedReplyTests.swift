import Foundation
import Testing
import TrialGateAudit
import TrialGateCore
import TrialGatePolicies
import TrialGateService

/// Typed replies: a reply decoded from the bytes a socket carries is the value the dispatcher answered in process,
/// and encodes to the same JSON; and a reply of one type does not pass for another.
@Suite struct TypedReplyTests {
    /// The demo scene: decisions, sign-offs, attestations, queries, corrections and withdrawals.
    static func scene() throws -> Fixture {
        let f = try Fixture(policy: ShippedPolicies.sanetEP)
        _ = try DemoScenario(today: f.clock.now().date).run(dispatcher: f.dispatcher, actor: "coordinator")
        return f
    }

    /// `command`'s reply in process, and as a client reads it from a reply line.
    static func both<T: ReplyView & Equatable>(_ f: Fixture, _ command: Command, as type: T.Type) throws -> (T, T) {
        let reply = try f.dispatcher.perform(command, actor: "coordinator")
        let line = CanonicalJSON.encode(reply.json)
        let received = Reply.received(try JSONParser.parse(line))
        let decoded = try received.decode(T.self)
        #expect(CanonicalJSON.encode(decoded.json) == line, "\(command.name): the decoded reply encodes to the bytes received")
        return (try reply.decode(T.self), decoded)
    }

    @Test func viewsDecodedFromTheWireEqualTheirValueInProcess() throws {
        let f = try Self.scene()
        func check<T: ReplyView & Equatable>(_ command: Command, _ type: T.Type) throws {
            let (local, remote) = try Self.both(f, command, as: type)
            #expect(local == remote, "\(command.name)")
        }
        try check(.head, HeadReply.self)
        try check(.publicKey, PublicKeyReply.self)
        try check(.checkpoint(size: nil), CheckpointReply.self)
        try check(.proofInclusion(seq: 7, size: nil), InclusionProofReply.self)
        try check(.proofConsistency(from: 10, to: nil), ConsistencyProofReply.self)
        try check(.users, UsersReply.self)
        for id in ["NET-001", "NET-010", "NET-016", "NET-017", "NET-014"] {
            try check(.show(candidate: id, asOfSeq: nil, asOfTime: nil), CandidateReply.self)
        }
        try check(.decisions(candidate: nil, outcome: nil, site: nil, after: 0, limit: nil, standing: nil), DecisionsReply.self)
        try check(.queries(candidate: nil, site: nil, status: nil), QueriesReply.self)
        try check(.report(asOfSeq: nil, asOfTime: nil, site: nil, from: nil, to: nil, format: "json"), ReportReply.self)
        try check(.report(asOfSeq: nil, asOfTime: nil, site: nil, from: nil, to: nil, format: "csv"), ReportCSVReply.self)
        try check(.exportFHIR(site: nil), FHIRExportReply.self)
        try check(.exportODM(through: nil, site: nil, after: 0, limit: 5), ODMExportReply.self)
        try check(.exportSDTMIE(through: nil, site: nil, after: 0, limit: 1000), SDTMIEReply.self)
        try check(.export(from: 1, through: 30, limit: 1000), ExportReply.self)
        try check(.auditTrail(candidate: "NET-017", from: 1, limit: 1000), AuditTrailReply.self)
        try check(.verify(), VerifyReply.self)
        try check(.replay, ReplayReply.self)
        try check(.policyCheck(text: ShippedPolicies.sanetEP, file: "sanet-ep.yaml"), PolicyCheckReply.self)
        try check(.decide(candidate: "NET-017"), DecisionReply.self)
        try check(.reportSnapshot, ReportSnapshotReply.self)
    }

    @Test func aDecisionsTypedDocumentEncodesAsTheBytesItsSignatureCovers() throws {
        let f = try Self.scene()
        let reply = try f.dispatcher.perform(.decide(candidate: "NET-001"), actor: "coordinator").decode(DecisionReply.self)
        let stored = try #require(try f.store.event(seq: reply.seq))
        #expect(try JSONValueEncoder().encode(reply.decision) == stored.payload["decision"])
        #expect(.string(reply.signature) == stored.payload["signature"])
    }

    @Test func aDecisionReplyBuiltDirectlyEqualsItsCodableEncoding() throws {
        let f = try Self.scene()
        for id in ["NET-001", "NET-010", "NET-016", "NET-017", "NET-014"] {
            let reply = try f.dispatcher.perform(.decide(candidate: id), actor: "coordinator").decode(DecisionReply.self)
            #expect(reply.json == (try JSONValueEncoder().encodeByCoding(reply)), "\(id)")
            #expect(reply.decision.json == (try JSONValueEncoder().encodeByCoding(reply.decision)), "\(id)")
        }
    }

    @Test func screeningLogRowsBuiltDirectlyEqualTheirCodableEncoding() throws {
        let f = try Self.scene()
        let report = try f.dispatcher.perform(.report(asOfSeq: nil, asOfTime: nil, site: nil, from: nil, to: nil, format: "json"),
                                              actor: "coordinator").decode(ReportReply.self)
        #expect(report.screeningLog.count > 10)
        #expect(Set(report.screeningLog.map(\.status)).count > 3)
        for row in report.screeningLog { #expect(row.json == (try JSONValueEncoder().encodeByCoding(row)), "\(row.candidate)") }
    }

    @Test func aReplyOfAnotherCommandDoesNotPassForThisOne() throws {
        let f = try Self.scene()
        let head = Reply.received(try f.dispatcher.perform(.head, actor: "coordinator").json)
        #expect { _ = try head.decode(CandidateReply.self) } throws: { ($0 as? TrialGateError)?.code == .missingField }
        let receipt = try f.dispatcher.perform(.withdraw(candidate: "NET-002", category: .other, reason: "moved away"), actor: "coordinator")
        let received = Reply.received(try JSONParser.parse(CanonicalJSON.encode(receipt.json)))
        #expect(try received.decode(WriteReceipt.self) == receipt.decode(WriteReceipt.self))
    }

    @Test func membersMissingFromTheWireStayMissingAndNullsStayNull() throws {
        let f = try Self.scene()
        // A proof in a tree of a size no checkpoint has (a decision and the queries it opened share one commit)
        // omits `checkpoint`; `next_after` of a last page is null.
        let size = try #require(try (2...f.size()).first { try f.store.checkpoints(from: $0, through: $0).isEmpty })
        let proof = try f.dispatcher.perform(.proofInclusion(seq: 1, size: size), actor: "coordinator")
        #expect(proof.json["checkpoint"] == nil)
        #expect(try proof.decode(InclusionProofReply.self).checkpoint == nil)
        let page = try f.dispatcher.perform(.decisions(candidate: nil, outcome: nil, site: nil, after: 0, limit: nil, standing: nil), actor: "coordinator").json
        #expect(page["next_after"] == .null)
    }

    @Test func whatAWriteAddsToItsReceiptIsTypedAndComesThroughTheWire() throws {
        let f = try Fixture()
        func both(_ command: Command) throws -> WriteReceipt {
            let reply = try f.dispatcher.perform(command, actor: "admin")
            let line = CanonicalJSON.encode(reply.json)
            let received = try Reply.received(try JSONParser.parse(line)).decode(WriteReceipt.self)
            #expect(try received == reply.decode(WriteReceipt.self), "\(command.name)")
            #expect(CanonicalJSON.encode(received.json) == line, "\(command.name): the decoded receipt encodes to the bytes received")
            return received
        }
        let policy = try PolicyLoader.load(ShippedPolicies.sanetEP, file: "p.yaml")
        let published = try both(.policyPublish(text: ShippedPolicies.sanetEP, file: "p.yaml"))
        #expect(published.policy == .init(id: policy.id, version: policy.version, sha256: Digest.sha256Hex(ShippedPolicies.sanetEP),
                                          criteria: policy.criteria.count))
        #expect(published.queriesOpened == 0 && published.keyID == nil && published.meaningText == nil)
        let old = try f.dispatcher.perform(.head, actor: "admin").decode(HeadReply.self).trial?.keyID
        let newKey = TrialKey.generate()
        let rotated = try both(.keyRotate(newKey: newKey))
        #expect(rotated.previousKeyID == old && rotated.keyID == newKey.keyID && rotated.publicKeyPEM == newKey.publicKeyPEM)
        #expect(rotated.policy == nil && rotated.queriesOpened == nil)
        let registered = try both(.register(candidate: "NET-1", fields: ["site": "SITE-01", "consent_date": "2026-06-01"]))
        #expect(registered.json.objectValue?.keys.sorted() == ["appended", "hash", "seq"])
    }
}
