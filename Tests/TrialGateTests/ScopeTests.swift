import Foundation
import Testing
import TrialGateAudit
import TrialGateCore
@testable import TrialGateService
import TrialGateStore

@Suite("Scope: no one acts outside their role or sites")
struct ScopeTests {
    let alice = Principal(name: "alice", role: .coordinator, sites: ["SITE-01"])

    private func registered() throws -> (Fixture, Int64) {
        let f = try Fixture()
        let seq = try f.run(.register(candidate: "NET-1", fields: ["site": "SITE-01"]))["seq"]!.intValue!
        return (f, Int64(seq))
    }

    private func code(_ f: Fixture, _ command: Command, as principal: Principal) -> String? {
        do { _ = try f.dispatcher.execute(command, principal: principal); return nil } catch { return TrialGateError(error).code.rawValue }
    }

    @Test("a coordinator cannot move a candidate to a site they do not hold, or to no site; nothing is written")
    func siteChangeNeedsBothSites() throws {
        let (f, seq) = try registered()
        let size = try f.size()
        for value: JSONValue in ["SITE-02", "NOWHERE", 7, .null] {
            #expect(code(f, .correct(seq: seq, field: "site", value: value, reason: "moved"), as: alice) == "forbidden", "\(value)")
        }
        #expect(try f.size() == size)
        // Still theirs: visible to them, invisible to the other site.
        #expect(code(f, .show(candidate: "NET-1", asOfSeq: nil, asOfTime: nil), as: alice) == nil)
        let both = Principal(name: "carol", role: .coordinator, sites: ["SITE-01", "SITE-02"])
        #expect(code(f, .correct(seq: seq, field: "site", value: "SITE-02", reason: "transferred"), as: both) == nil)
        // Once moved, it is the other site's, and its old site's coordinator can no longer touch it.
        #expect(code(f, .show(candidate: "NET-1", asOfSeq: nil, asOfTime: nil), as: alice) == "forbidden")
        let bob = Principal(name: "bob", role: .coordinator, sites: ["SITE-02"])
        #expect(code(f, .correct(seq: seq, field: "site", value: "SITE-01", reason: "back"), as: bob) == "forbidden")
    }

    @Test("subscribe takes a sequence number ≥ 1 as from, or none; null, 0, text and extra members are refused", arguments: [
        #"{"cmd":"subscribe","from":null}"#, #"{"cmd":"subscribe","from":0}"#, #"{"cmd":"subscribe","from":"5"}"#,
        #"{"cmd":"subscribe","from":1.5}"#, #"{"cmd":"subscribe","from":1,"x":1}"#,
    ])
    func subscribeFromRefused(line: String) throws {
        #expect { try Command.parse(try JSONParser.parse(Array(line.utf8))) } throws: {
            (($0 as? TrialGateError)?.code.rawValue == "bad_request") && "\($0)".contains("subscribe takes")
        }
        #expect(try Command.parse(try JSONParser.parse(Array(#"{"cmd":"subscribe"}"#.utf8))) == .subscribe(from: 1))
    }

    @Test("subscribe follows export's rule: a sponsor may do neither, a regulator both")
    func subscribeIsExportsRule() {
        for role in Role.allCases {
            #expect(Access.allowed(role, .subscribe(from: 1)) == Access.allowed(role, .export(from: 1, through: nil, limit: 1)), "\(role)")
        }
        #expect(!Access.allowed(.sponsor, .subscribe(from: 1)) && !Access.allowed(.coordinator, .subscribe(from: 1)) && Access.allowed(.regulator, .subscribe(from: 1)))
    }

    @Test("a non-zero number too small for a double is refused, naming it, not stored as 0", arguments: ["1e-999", "-2.5e-400", "0.000e-999", "1e-310"])
    func underflowRefused(literal: String) throws {
        let (f, _) = try registered()
        let size = try f.size()
        let reply = f.dispatcher.handle(line: Array(#"{"cmd":"record","kind":"ki67","candidate":"NET-1","fields":{"percent":\#(literal),"specimen_date":"2026-03-02","method":"manual_count"}}"#.utf8), actor: "c") ?? ""
        if literal.hasPrefix("0.000") {
            // A literal zero written with an exponent is zero, not an underflow.
            #expect(reply.contains(#""ok":true"#), "\(reply)")
        } else {
            #expect(reply.contains(#""ok":false"#) && reply.contains(literal), "\(reply)")
            #expect(try f.size() == size)
        }
    }
}
