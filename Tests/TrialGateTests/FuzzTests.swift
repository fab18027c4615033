import Foundation
import Testing
import TrialGateAudit
import TrialGateCore
@testable import TrialGateService

/// A small deterministic generator of hostile inputs: mutations (bit flips, byte insertions and deletions,
/// truncations, duplicated spans, splices of two seeds, deep nesting) of the committed seed corpus in
/// Fixtures/corpus. Runs `TRIALGATE_FUZZ_ITERATIONS` inputs per target (default 3,000, a few seconds); any crash
/// stops the test process, and its input is reproduced from the printed seed.
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
    @Test("JSON parser and RFC 8785: never crash; whatever parses re-encodes to a fixed point")
    func json() throws {
        let seeds = try corpus("json") + corpus("requests")
        #expect(seeds.count >= 10)
        var m = Mutator(seed: 1)
        var parsed = 0
        for i in 0..<iterations {
            let input = m.mutate(seeds[i % seeds.count], other: seeds[m.below(seeds.count)])
            guard let value = try? JSONParser.parse(input) else { continue }
            parsed += 1
            let once = CanonicalJSON.encode(value)
            let again = try JSONParser.parse(once)
            #expect(CanonicalJSON.encode(again) == once, "seed 1, input \(i)")
        }
        #expect(parsed > 0)
    }

    @Test("request lines: the dispatcher answers every one with a reply, never a crash, and appends nothing wrong")
    func requests() throws {
        let f = try Fixture()
        let seeds = try corpus("requests")
        var m = Mutator(seed: 2)
        var ok = 0, refused = 0
        for i in 0..<iterations {
            let input = m.mutate(seeds[i % seeds.count], other: seeds[m.below(seeds.count)])
            let reply = f.dispatcher.handle(line: input, actor: "fuzz")
            let r = try JSONParser.parse(reply)
            if r["ok"] == true { ok += 1 } else {
                refused += 1
                #expect(r["error"]?["code"]?.stringValue?.isEmpty == false, "reply without a code for input \(i)")
            }
        }
        #expect(refused > 0)
        #expect(try f.run(.verify())["valid"] == true, "the log still verifies after \(ok) accepted inputs")
    }

    @Test("deeply nested or oversized policy text is refused before the YAML library recurses")
    func policyNesting() throws {
        let flow = "policy: p\nversion: \"1\"\ncriteria: " + String(repeating: "[", count: 100_000) + "\n"
        #expect { try PolicyLoader.load(flow, file: "deep.yaml") } throws: { ($0 as? CoreError)?.message.contains("deep.yaml:3: nested deeper") == true }
        var block = "policy: p\nversion: \"1\"\ncriteria:\n"
        for i in 0..<200 { block += String(repeating: " ", count: 2 * i) + "- \n" }
        #expect { try PolicyLoader.load(block, file: "deep.yaml") } throws: { ($0 as? CoreError)?.message.contains("nested deeper") == true }
        let huge = "policy: p\n# " + String(repeating: "x", count: 2 << 20) + "\n"
        #expect { try PolicyLoader.load(huge, file: "big.yaml") } throws: { ($0 as? CoreError)?.message.contains("at most") == true }
        // The shipped policy is far from the limits.
        _ = try PolicyLoader.load(String(decoding: try corpus("policies")[0], as: UTF8.self))
    }

    @Test("policy files: the loader refuses bad YAML with a located error, never a crash")
    func policies() throws {
        let seeds = try corpus("policies")
        var m = Mutator(seed: 3)
        for i in 0..<(iterations / 10) {
            let input = m.mutate(seeds[i % seeds.count], other: seeds[m.below(seeds.count)])
            do { _ = try PolicyLoader.load(String(decoding: input, as: UTF8.self), file: "fuzz.yaml") } catch let e as CoreError {
                #expect(!e.message.isEmpty)
            } catch {
                Issue.record("policy input \(i): an error that is not a CoreError: \(error)")
            }
        }
    }
}
