import Foundation
import Testing
import TrialGateAudit
import TrialGateCore
import TrialGatePolicies
@testable import TrialGateService
@testable import TrialGateStore

@Suite("The checkpoint in a report's header")
struct ReportCheckpointTests {
    func report(_ f: Fixture, seq: Int64? = nil) throws -> ReportReply {
        try f.dispatcher.perform(.report(asOfSeq: seq, asOfTime: nil, site: nil, from: nil, to: nil, format: "json"), actor: "sponsor")
            .decode(ReportReply.self)
    }

    @Test("an honest log: the newest checkpoint at or before the report's point, its root the tree's, verified")
    func honest() throws {
        let f = try Fixture(policy: ShippedPolicies.sanetEP)
        try f.run(.register(candidate: "NET-1", fields: ["site": "SITE-01"]))
        let k = try #require(try report(f).checkpoint)
        let size = try f.size(), root = Digest.hex(try f.store.merkleRoot(size: k.size))
        #expect(k.verified && k.size == size)
        #expect(k.root == root)
        let html = try f.run(.report(asOfSeq: nil, asOfTime: nil, site: nil, from: nil, to: nil, format: "html"))["html"]!.stringValue!
        #expect(html.contains("root <code>\(k.root)</code>") && html.contains("<span class=\"verified\">verified</span>"))
        // As of an earlier event: the checkpoint of that size (every write ends with one).
        let earlier = try #require(try report(f, seq: 2).checkpoint)
        #expect(earlier.size == 2 && earlier.verified)
    }

    @Test("an event inserted with sqlite3: the header shows the last checkpoint before it and says the events after it are not covered")
    func eventAfterTheCheckpoint() throws {
        let s = try TrustScene()
        let covered = try s.f.size()
        try s.forgeKi67()
        let r = try report(s.f)
        let k = try #require(r.checkpoint)
        #expect(k.size == covered && k.verified && k.detail.contains("events \(covered + 1)…\(covered + 1) are after it"))
        #expect(r.logWarning != nil)
    }

    @Test("a checkpoint note changed with sqlite3 is shown NOT verified, saying why")
    func changedNote() throws {
        let s = try TrustScene()
        let size = try s.f.size()
        let note = try #require(try s.f.store.checkpoints(from: size, through: size).first).note
        var lines = note.components(separatedBy: "\n")
        lines[2] = Data(Array(repeating: 7, count: 32)).base64EncodedString()
        try s.insider.sql("DROP TRIGGER checkpoints_no_update; UPDATE checkpoints SET note = \(Insider.quoted(lines.joined(separator: "\n"))) WHERE size = \(size);")
        let k = try #require(try report(s.f).checkpoint)
        #expect(!k.verified && k.detail.contains("not signed by the trial key in force"))
        #expect(k.root == String(repeating: "07", count: 32))
        let html = try s.f.run(.report(asOfSeq: nil, asOfTime: nil, site: nil, from: nil, to: nil, format: "html"))["html"]!.stringValue!
        #expect(html.contains("<span class=\"not-verified\">NOT verified</span>"))
    }
}
