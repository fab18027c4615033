import Foundation
import Testing
import TrialGateAudit
import TrialGateCore
import TrialGateServer
@testable import TrialGateFuzzTargets
@testable import TrialGateService

/// A small deterministic generator of hostile inputs: mutations (bit flips, byte insertions and deletions,
/// truncations, duplicated spans, splices of two seeds, deep nesting) of the committed seed corpus in
/// Fixtures/corpus. Runs `TRIALGATE_FUZZ_ITERATIONS` inputs per target (default 3,000, a few seconds); any crash
/// stops the test process, and its input is reproduced from the printed seed. The properties checked are those of
/// `FuzzTarget`, which the coverage-guided fuzzer (`scripts/fuzz.sh`, libFuzzer) checks too.
struct Mutator {
    var state: UInt64
    init(seed: UInt64) { state = seed &* 0x9E37_79B9_7F4A_7C15 | 1 }

    mutating func next() -> UInt64 {
        state ^= state << 13; state ^= state >> 7; state ^= state << 17
        return state
    }

    mutating func below(_ n: Int) -> Int { n <= 1 ? 0 : Int(next() % UInt64(n)) }

    static let interesting: [[UInt8]] = [Array("\"".utf8), Array("\\".utf8), Array("{".utf8), Array("}".utf8), Array("[".utf8),
        Array("]".utf8), Array(",".utf8), Array(":".utf8), Array("1e999".utf8), Array("-0".utf8), Array("\\ud800".utf8),
        Array("null".utf8), [0xFF], [0xC0, 0x80], [0xED, 0xA0, 0x80], [0x00], Array("\n".utf8), Array("{{{{".utf8),
        Array("&anchor".utf8), Array("*anchor".utf8), Array("<<: ".utf8), Array("!!binary ".utf8)]

    mutating func mutate(_ input: [UInt8], other: [UInt8]) -> [UInt8] {
        var b = input
        for _ in 0...below(4) {
            switch below(8) {
            case 0 where !b.isEmpty: b[below(b.count)] ^= UInt8(1 << below(8))
            case 1: b.insert(contentsOf: Self.interesting[below(Self.interesting.count)], at: below(b.count + 1))
            case 2 where !b.isEmpty: b.remove(at: below(b.count))
            case 3 where !b.isEmpty: b = Array(b.prefix(below(b.count)))
            case 4 where b.count > 2:
                let s = below(b.count - 1), e = s + 1 + below(min(64, b.count - s))
                b.insert(contentsOf: b[s..<min(e, b.count)], at: below(b.count + 1))
            case 5 where !other.isEmpty: b = Array(b.prefix(below(b.count + 1))) + Array(other.suffix(below(other.count + 1)))
            case 6: let n = 1 + below(3000); b = Array(repeating: UInt8(ascii: "["), count: n) + b + Array(repeating: UInt8(ascii: "]"), count: n)
            default: if !b.isEmpty { b[below(b.count)] = UInt8(truncatingIfNeeded: next()) }
            }
        }
        return b
    }
}

private func corpus(_ dir: String) throws -> [[UInt8]] {
    guard let base = Bundle.module.resourceURL?.appendingPathComponent("Fixtures/corpus/" + dir) else { return [] }
    return try FileManager.default.contentsOfDirectory(atPath: base.path).sorted().map {
        Array(try Data(contentsOf: base.appendingPathComponent($0)))
    }
}

private let iterations = Int(ProcessInfo.processInfo.environment["TRIALGATE_FUZZ_ITERATIONS"] ?? "") ?? 3000

@Suite("Generated hostile inputs against the parsers")
struct FuzzTests {
    /// Runs `iterations` mutated inputs through a target; every input must be handled (accepted, or refused
    /// with a clear error) and the target's own property must hold.
    private func drive(_ target: FuzzTarget, seed: UInt64, count: Int, context: FuzzContext) throws {
        let seeds = try target.corpus.flatMap { try corpus($0) }
        #expect(seeds.count >= 2)
        // The seeds as they are first: a crashing input found by libFuzzer, once fixed, is committed as a seed.
        for (i, input) in seeds.enumerated() {
            if let problem = target.run(input, context: context) { Issue.record("\(target.rawValue), seed file \(i): \(problem)") }
        }
        var m = Mutator(seed: seed)
        for i in 0..<count {
            let input = m.mutate(seeds[i % seeds.count], other: seeds[m.below(seeds.count)])
            if let problem = target.run(input, context: context) {
                Issue.record("\(target.rawValue), seed \(seed), input \(i): \(problem)")
            }
        }
    }

    @Test("JSON parser and RFC 8785: never crash; whatever parses re-encodes to a fixed point")
    func json() throws {
        try drive(.json, seed: 1, count: iterations, context: try FuzzContext())
        // The property is checked, not vacuous: parseable inputs do occur among the mutants.
        var m = Mutator(seed: 1)
        let seeds = try corpus("json")
        #expect((0..<200).contains { i in (try? JSONParser.parse(m.mutate(seeds[i % seeds.count], other: seeds[0]))) != nil })
    }

    @Test("request lines: the dispatcher answers every one with a reply, never a crash, and appends nothing wrong")
    func requests() throws {
        let context = try FuzzContext()
        try drive(.request, seed: 2, count: iterations, context: context)
        #expect(try context.store.head().size > 2, "some mutated requests were accepted and appended")
        #expect(try context.dispatcher.execute(.verify(), actor: "fuzz")["valid"] == true, "the log still verifies")
    }

    @Test("deeply nested or oversized policy text is refused before the YAML library recurses")
    func policyNesting() throws {
        let flow = "policy: p\nversion: \"1\"\ncriteria: " + String(repeating: "[", count: 100_000) + "\n"
        #expect { try PolicyLoader.load(flow, file: "deep.yaml") } throws: { ($0 as? TrialGateError)?.message.contains("deep.yaml:3: nested deeper") == true }
        var block = "policy: p\nversion: \"1\"\ncriteria:\n"
        for i in 0..<200 { block += String(repeating: " ", count: 2 * i) + "- \n" }
        #expect { try PolicyLoader.load(block, file: "deep.yaml") } throws: { ($0 as? TrialGateError)?.message.contains("nested deeper") == true }
        let huge = "policy: p\n# " + String(repeating: "x", count: 2 << 20) + "\n"
        #expect { try PolicyLoader.load(huge, file: "big.yaml") } throws: { ($0 as? TrialGateError)?.message.contains("at most") == true }
        // The shipped policy is far from the limits.
        _ = try PolicyLoader.load(String(decoding: try corpus("policies")[0], as: UTF8.self))
    }

    @Test("policy files: the loader refuses bad YAML with a located error, never a crash")
    func policies() throws {
        try drive(.policy, seed: 3, count: iterations / 10, context: try FuzzContext())
    }

    @Test("add-checkpoint bodies: the witness's decision never crashes, and cosigns only what extends the checkpoint it holds")
    func witnessBodies() throws {
        // The seeds get the statuses C2SP tlog-witness gives them, so mutations start from every branch.
        let want = ["grow-4-to-7.txt": 200, "same-size-4.txt": 200, "stale-old-0.txt": 409, "bad-proof.txt": 422, "other-key.txt": 403,
                    "unknown-origin.txt": 404, "old-above-size.txt": 400, "64-proof-lines.txt": 400]
        let base = try #require(Bundle.module.resourceURL?.appendingPathComponent("Fixtures/corpus/witness"))
        for (file, status) in want {
            let body = try String(contentsOf: base.appendingPathComponent(file), encoding: .utf8)
            let outcome = WitnessRules.decide(body, logs: [FuzzTarget.witnessLog], latest: [FuzzTarget.witnessLog.origin: FuzzTarget.witnessHeld])
            #expect(outcome.status == status, "\(file): \(outcome)")
            #expect(FuzzTarget.witness(Array(body.utf8)) == nil, "\(file)")
        }
        try drive(.witness, seed: 5, count: iterations, context: try FuzzContext())
    }

    @Test("client byte streams through the server's framing, protocol step and dispatcher: well-formed replies only")
    func sessions() throws {
        let context = try FuzzContext()
        try drive(.session, seed: 4, count: iterations / 3, context: context)
        #expect(try context.dispatcher.execute(.verify(), actor: "fuzz")["valid"] == true, "the log still verifies")
    }

    @Test("a session answers as a served connection does: in order, by id, roles and sites enforced")
    func sessionReplies() throws {
        let context = try FuzzContext()
        func run(_ file: String) throws -> [JSONValue] {
            let bytes = try corpus("sessions")[["admin-crlf.txt", "coordinator.txt", "hostile.txt", "regulator.txt", "sponsor.txt"].firstIndex(of: file)!]
            let session = try ProtocolSession(server: context.server, dispatcher: context.dispatcher)
            return try session.receive(bytes) + session.finish()
        }
        func summary(_ replies: [JSONValue]) -> [String] {
            replies.map { r in "\(r["id"].map { CanonicalJSON.string($0) } ?? "-"):\(r["ok"] == true ? "ok" : r["error"]?["code"]?.stringValue ?? "?")" }
        }
        #expect(summary(try run("coordinator.txt")) == ["0:ok", "1:ok", "2:ok", "3:ok", "4:ok", "5:ok", "6:ok", "7:forbidden"])
        #expect(summary(try run("sponsor.txt")) == ["\"a\":ok", "\"h\":ok", "\"c\":ok", "\"p\":ok", "\"q\":ok", "\"d\":ok", "\"w\":forbidden", "\"s\":forbidden", "\"x\":ok"])
        #expect(summary(try run("hostile.txt")) == ["1:unauthenticated", "-:invalid_json", "2:auth_failed", "3:bad_request", "-:bad_request",
                                                    "4:ok", "5:unknown_field", "6:forbidden", "-:line_too_long", "8:forbidden"])
        #expect(summary(try run("regulator.txt")) == ["1:ok", "2:ok", "3:ok", "4:ok", "5:ok", "6:bad_request"])
        let admin = summary(try run("admin-crlf.txt"))
        #expect(admin == ["1:ok", "2:ok", "3:ok"], "\(admin)")
    }

    @Test("the properties the targets check do flag bad results")
    func targetsCanFail() throws {
        #expect(FuzzTarget.checkReply(#"{"ok":true,"result":{}}"#) == nil)
        #expect(FuzzTarget.checkReply(#"{"error":{"code":"invalid_json","message":"bad"},"ok":false}"#) == nil)
        #expect(FuzzTarget.checkReply(#"{"ok":false}"#) != nil)
        #expect(FuzzTarget.checkReply(#"{"error":{"code":"","message":"bad"},"ok":false}"#) != nil)
        #expect(FuzzTarget.checkReply("Fatal error") != nil)
        #expect(FuzzTarget.checkReply(#"{"result":1}"#) != nil)
    }
}
