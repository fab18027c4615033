import Foundation
import Testing
import TrialGateAudit
import TrialGateCore
import TrialGatePolicies
@testable import TrialGateService
import TrialGateStore

/// A value's bytes inside a canonical text are its own canonical form: the verifier takes a decision's signed bytes
/// from the stored body instead of encoding it again, so the slice must be exactly what encoding gives.
@Suite("CanonicalSlice: a member's bytes in a canonical text")
struct CanonicalSliceTests {
    /// Strings that stress a scanner: quotes, backslashes, braces and brackets, commas and colons, controls, non-ASCII.
    static let pieces = ["\"", "\\", "{", "}", "[", "]", ",", ":", "\u{0}", "\n", "é", "≤", "😀", "a", "decision", "payload", " "]

    static func value<G: RandomNumberGenerator>(_ g: inout G, depth: Int) -> JSONValue {
        switch Int.random(in: 0..<(depth > 3 ? 4 : 6), using: &g) {
        case 0: return .null
        case 1: return .bool(Bool.random(using: &g))
        case 2: return .number([0, -1, 0.5, 1e21, 123456789, -0.000001][Int.random(in: 0..<6, using: &g)])
        case 3: return .string((0..<Int.random(in: 0..<6, using: &g)).map { _ in pieces.randomElement(using: &g)! }.joined())
        case 4: return .array((0..<Int.random(in: 0..<4, using: &g)).map { _ in value(&g, depth: depth + 1) })
        default:
            var members: [String: JSONValue] = [:]
            for _ in 0..<Int.random(in: 0..<5, using: &g) {
                members[(0..<Int.random(in: 1..<4, using: &g)).map { _ in pieces.randomElement(using: &g)! }.joined()] = value(&g, depth: depth + 1)
            }
            return .object(members)
        }
    }

    @Test("every member path of generated values: the slice is the member's canonical encoding")
    func generated() {
        var g = SeededGenerator(state: 6962)
        var checked = 0
        for _ in 0..<3000 {
            var members: [String: JSONValue] = ["payload": ["decision": Self.value(&g, depth: 1), "signature": "x"]]
            for _ in 0..<Int.random(in: 0..<5, using: &g) {
                members[Self.pieces.randomElement(using: &g)! + Self.pieces.randomElement(using: &g)!] = Self.value(&g, depth: 1)
            }
            let root = JSONValue.object(members)
            let text = CanonicalJSON.encode(root)
            // Every path of member names down from the top.
            func walk(_ v: JSONValue, _ path: [String]) {
                guard case .object(let members) = v else { return }
                for (name, child) in members {
                    let range = CanonicalSlice.range(of: path + [name], in: text)
                    #expect(range.map { Array(text[$0]) } == CanonicalJSON.encode(child), "path \(path + [name]) in \(CanonicalJSON.string(root))")
                    checked += 1
                    walk(child, path + [name])
                }
            }
            walk(root, [])
            #expect(CanonicalSlice.range(of: ["no such member"], in: text) == nil)
        }
        #expect(checked > 5000)
    }

    @Test("a demo log's decisions: the stored slice is the signed bytes, and the auditor verifies with it")
    func decisionsOfTheDemo() throws {
        let f = try Fixture(policy: ShippedPolicies.sanetEP)
        _ = try DemoScenario(today: f.clock.now().date).run(dispatcher: f.dispatcher, actor: "coordinator")
        var rows: [StoredRow] = []
        try f.store.forEachRow { rows.append($0) }
        var decisions = 0
        for row in rows where row.type == EventType.decisionIssued.rawValue {
            let event = try row.event()
            let range = try #require(CanonicalSlice.range(of: ["payload", "decision"], in: row.body))
            #expect(Array(row.body[range]) == Decision.signedBytes(of: event.payload["decision"]!))
            #expect(LogAuditor.prepare(event, storedBody: row.body, isCanonical: true).signedDecision.map(Array.init)
                    == Decision.signedBytes(of: event.payload["decision"]!))
            decisions += 1
        }
        #expect(decisions > 10)
        #expect(try f.run(.verify())["valid"] == true)
        // Not canonical: the auditor encodes the parsed decision instead of trusting the bytes.
        let row = try #require(rows.first { $0.type == EventType.decisionIssued.rawValue })
        #expect(LogAuditor.prepare(try row.event(), storedBody: row.body, isCanonical: false).signedDecision == nil)
        #expect(CanonicalSlice.range(of: ["payload", "decision"], in: Array("{\"payload\":{\"decision\":".utf8)) == nil, "a cut text")
    }
}
