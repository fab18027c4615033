import TrialGateCore
import Foundation
import Testing
@testable import TrialGateCore

@Suite("RFC 8785 canonical JSON")
struct CanonicalJSONTests {
    @Test("each cyberphone testdata input canonicalises to its expected output", arguments: ["arrays", "french", "structures", "unicode", "values", "weird"])
    func rfc8785Examples(name: String) throws {
        let input = try fixture("jcs/input/\(name).json")
        let expected = try fixture("jcs/output/\(name).json")
        let value = try JSONParser.parse(Array(input))
        #expect(CanonicalJSON.encode(value) == Array(expected))
        // Checked while parsing: the inputs are not canonical, the outputs are.
        #expect(try JSONParser.parseCanonical(Array(input)).isCanonical == false)
        let checked = try JSONParser.parseCanonical(Array(expected))
        #expect(checked.isCanonical && checked.value == value)
    }

    @Test("the canonical check made while parsing agrees with re-encoding", arguments: [
        (#"{"a":1,"b":[true,false,null],"c":"x"}"#, true), (#"{"b":1,"a":2}"#, false), (#"{"a":1, "b":2}"#, false),
        (" 1", false), ("1\n", false), (#""a\/b""#, false), (#""\u0041""#, false), (#""\u001F""#, false), (#""\u001f""#, true),
        (#""\u000a""#, false), (#""\n\t\"\\""#, true), (#""\ud83d\ude00""#, false), ("\"\u{1F600}\"", true), ("1.0", false),
        ("1e2", false), ("-0", false), ("0", true), ("-7", true), ("12.5", true), ("1e+21", true), ("1E+21", false),
        ("0.000001", true), ("1e-7", true), ("1e-07", false), ("123456789012345678", false), ("123456789012345680", true),
        (#"{"\u20ac":1,"\ud83d\ude00":2}"#, false), ("{\"\u{FB01}\":1,\"\u{1F600}\":2}", false), ("{\"\u{1F600}\":2,\"\u{FB01}\":1}", true),
        ("{\"\u{20AC}\":1,\"\u{1F600}\":2}", true),
    ])
    func canonicalWhileParsing(text: String, canonical: Bool) throws {
        let bytes = Array(text.utf8)
        let checked = try JSONParser.parseCanonical(bytes)
        #expect(checked.isCanonical == canonical)
        #expect((CanonicalJSON.encode(try JSONParser.parse(bytes)) == bytes) == canonical)
        #expect(checked.value == (try JSONParser.parse(bytes)))
    }

    @Test("10,000 ES6 number serialisations match")
    func es6Numbers() throws {
        let lines = try fixtureText("jcs/es6numbers_first10000.txt").split(separator: "\n")
        #expect(lines.count == 10_000)
        var mismatches: [String] = []
        for line in lines {
            let parts = line.split(separator: ",", maxSplits: 1)
            let bits = UInt64(parts[0], radix: 16)!
            let value = Double(bitPattern: bits)
            guard value.isFinite else { continue }
            let got = CanonicalJSON.formatNumber(value)
            if got != parts[1] { mismatches.append("\(parts[0]): got \(got), want \(parts[1])") }
        }
        #expect(mismatches.isEmpty, "\(mismatches.prefix(5))")
    }

    @Test("keys sort by UTF-16 code units, not by scalar or locale")
    func utf16Ordering() throws {
        // U+1F600 (surrogates D83D DE00) sorts before U+FB01 in UTF-16 though it is the larger scalar.
        let value: JSONValue = ["\u{FB01}": 1, "\u{1F600}": 2, "a": 3]
        #expect(CanonicalJSON.string(value) == "{\"a\":3,\"\u{1F600}\":2,\"\u{FB01}\":1}")
    }

    @Test("control characters escape as JCS requires")
    func escapes() {
        #expect(CanonicalJSON.string(.string("a\u{8}\u{1F}\"\\/\u{7F}")) == "\"a\\b\\u001f\\\"\\\\/\u{7F}\"")
    }
}

@Suite("Strict JSON parsing")
struct JSONParserTests {
    @Test("malformed or ambiguous input is refused", arguments: [
        "{\"a\":1,\"a\":2}", "[1,]", "{\"a\":1,}", "01", "1.", "-", "\"\\ud800\"", "nul", "[1] 2", "{'a':1}", "\"a\u{01}\"", "NaN",
    ])
    func refuses(text: String) {
        #expect(throws: TrialGateError.self) { try JSONParser.parse(text) }
    }

    @Test("invalid UTF-8 is refused")
    func invalidUTF8() {
        #expect(throws: TrialGateError.self) { try JSONParser.parse([0x22, 0xC3, 0x28, 0x22]) }
    }

    @Test("nesting is bounded")
    func depth() {
        let deep = String(repeating: "[", count: 100) + String(repeating: "]", count: 100)
        #expect(throws: TrialGateError.self) { try JSONParser.parse(deep) }
        let ok = String(repeating: "[", count: 10) + String(repeating: "]", count: 10)
        #expect((try? JSONParser.parse(ok)) != nil)
    }

    @Test("escapes and surrogate pairs decode")
    func decodes() throws {
        #expect(try JSONParser.parse("\"\\u00e9\\ud83d\\ude00\\n\"") == .string("é😀\n"))
        #expect(try JSONParser.parse(" {\"k\" : [true, null, -1.5e2]} ") == ["k": [true, nil, -150]])
    }

    @Test("an event body written member by member is the canonical encoding of the body object", arguments: [
        ("coordinator:ana", "C-1" as String?, #"{"site":"SITE-01","percent":8.5,"notes":"a \"quoted\"\nline"}"#),
        ("admin", nil, #"{"trial_id":"T","list":[1,-2.5e-7,true,null,{"é":"😀","a":[]}]}"#),
        ("Zoë \u{1}\\", "Ω-\u{7f}", #"{}"#),
    ])
    func eventBody(actor: String, candidate: String?, payload: String) throws {
        let draft = EventDraft(timestamp: UTCTimestamp(millisecondsSinceEpoch: 1_782_900_000_123), actor: actor,
                               type: candidate == nil ? .trialInitialised : .candidateRegistered, candidate: candidate,
                               payload: try JSONParser.parse(payload))
        for (seq, version) in [(Int64(1), 1), (987_654_321_012, 2)] {
            let prev = String(repeating: "ab", count: 32)
            let direct = Event.canonicalBody(seq: seq, draft: draft, schemaVersion: version, prevHash: prev)
            #expect(direct == CanonicalJSON.encode(Event.body(seq: seq, draft: draft, schemaVersion: version, prevHash: prev)))
            #expect(try JSONParser.parseCanonical(direct).isCanonical)
        }
    }
}
