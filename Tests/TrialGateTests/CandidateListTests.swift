import Foundation
import Testing
import TrialGateAudit
import TrialGateCore
@testable import TrialGateService
import TrialGateStore

/// `candidates` / `trialgate candidate list`: registered candidates by site and status, a page at a time, within the
/// reader's sites.
@Suite struct CandidateListTests {
    let alice = Principal(name: "alice", role: .coordinator, sites: ["SITE-01"])
    let sam = Principal(name: "sam", role: .sponsor, sites: [])

    /// Five candidates: three at SITE-01 (one withdrawn), two at SITE-02.
    func fixture() throws -> Fixture {
        let f = try Fixture()
        for (id, site) in [("A-1", "SITE-01"), ("B-1", "SITE-02"), ("A-2", "SITE-01"), ("A-3", "SITE-01"), ("B-2", "SITE-02")] {
            try f.run(.register(candidate: id, fields: ["site": .string(site)]))
        }
        try f.run(.withdraw(candidate: "A-2", category: .other, reason: "moved away"))
        return f
    }

    func list(_ f: Fixture, _ command: Command, as principal: Principal) throws -> CandidatesReply {
        try JSONValueDecoder().decode(CandidatesReply.self, from: try f.dispatcher.execute(command, principal: principal))
    }

    @Test("filters by site and status, in registration order, with the status show gives")
    func filters() throws {
        let f = try fixture()
        let all = try list(f, .candidates(site: nil, status: nil), as: sam)
        #expect(all.candidates.map(\.candidate) == ["A-1", "B-1", "A-2", "A-3", "B-2"])
        #expect(all.candidates.map(\.status) == ["pending", "pending", "withdrawn", "pending", "pending"])
        #expect(try list(f, .candidates(site: "SITE-02", status: nil), as: sam).candidates.map(\.candidate) == ["B-1", "B-2"])
        let withdrawn = try list(f, .candidates(site: nil, status: "withdrawn"), as: sam).candidates
        #expect(withdrawn.map(\.candidate) == ["A-2"] && withdrawn[0].withdrawnSeq != nil)
        let shown = try f.run(.show(candidate: "A-2", asOfSeq: nil, asOfTime: nil), as: "regulator")
        #expect(shown["status"]?.stringValue == "withdrawn")
    }

    @Test("pages follow on from next_after until the last, which has none")
    func paging() throws {
        let f = try fixture()
        var seen: [String] = []
        var after: Int64 = 0
        var pages = 0
        while true {
            let page = try list(f, .candidates(site: nil, status: nil, after: after, limit: 2), as: sam)
            seen += page.candidates.map(\.candidate)
            pages += 1
            guard let next = page.nextAfter else { break }
            after = next
        }
        #expect(seen == ["A-1", "B-1", "A-2", "A-3", "B-2"] && pages == 3)
    }

    @Test("a coordinator lists one of their sites only; an admin lists none; a bad status or limit names the field")
    func scopeAndInput() throws {
        let f = try fixture()
        #expect(try list(f, .candidates(site: "SITE-01", status: nil), as: alice).candidates.map(\.candidate) == ["A-1", "A-2", "A-3"])
        for command: Command in [.candidates(site: nil, status: nil), .candidates(site: "SITE-02", status: nil)] {
            #expect(throws: TrialGateError.self) { _ = try list(f, command, as: alice) }
        }
        let admin = Principal(name: "root", role: .admin, sites: [])
        #expect(throws: TrialGateError.self) { _ = try list(f, .candidates(site: nil, status: nil), as: admin) }
        for (command, field) in [(Command.candidates(site: nil, status: "enrolled"), "status"), (.candidates(site: nil, status: nil, limit: 0), "limit")] {
            do { _ = try list(f, command, as: sam); Issue.record("\(command) was taken") } catch {
                let e = TrialGateError(error)
                #expect(e.code == .invalidField && e.message.contains(field), "\(e.message)")
            }
        }
    }

    @Test("over the line protocol: the request form, and its refusals")
    func requestForm() throws {
        let f = try fixture()
        let parsed = try Command.parse(try JSONParser.parse(#"{"cmd":"candidates","site":"SITE-01","status":"pending","after":3,"limit":10}"#))
        #expect(parsed == .candidates(site: "SITE-01", status: "pending", after: 3, limit: 10))
        #expect(throws: TrialGateError.self) { _ = try Command.parse(try JSONParser.parse(#"{"cmd":"candidates","after":-1}"#)) }
        #expect(throws: TrialGateError.self) { _ = try Command.parse(try JSONParser.parse(#"{"cmd":"candidates","limit":0}"#)) }
        _ = f
    }
}
