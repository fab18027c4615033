import Foundation
import Testing
import TrialGateCore

/// The Codable bridge to `JSONValue` (`JSONValueEncoder`, `JSONValueDecoder`): how values map, the rule for nil
/// (`null`, or no member with `@OmittedWhenNil`), round trips, and error messages that name the member's path.
@Suite struct JSONValueCodingTests {
    struct Inner: Codable, Equatable {
        var seq: Int64
        var tags: [String]
    }

    struct Sample: Codable, Equatable {
        var name: String
        var count: Int
        var ratio: Double
        var flag: Bool
        var next: Int64?
        var note: String?
        @OmittedWhenNil var warning: String?
        var inner: Inner
        var rows: [Inner]
        var byName: [String: Int]
        var payload: JSONValue

        enum CodingKeys: String, CodingKey {
            case name, count, ratio, flag, next = "next_after", note, warning = "log_warning", inner, rows, byName = "by_name", payload
        }
    }

    static let sample = Sample(name: "x", count: 3, ratio: 0.25, flag: true, next: nil, note: "n", warning: nil,
                               inner: Inner(seq: 7, tags: ["a"]), rows: [Inner(seq: 1, tags: []), Inner(seq: 2, tags: ["b", "c"])],
                               byName: ["SITE-01": 2], payload: ["k": [1, "two", nil, 2.5]])

    @Test func encodesMembersAsJSONWithNullForNilAndNoMemberWhenOmitted() throws {
        let json = try JSONValueEncoder().encode(Self.sample)
        #expect(json == [
            "name": "x", "count": 3, "ratio": 0.25, "flag": true, "next_after": nil, "note": "n",
            "inner": ["seq": 7, "tags": ["a"]], "rows": [["seq": 1, "tags": []], ["seq": 2, "tags": ["b", "c"]]],
            "by_name": ["SITE-01": 2], "payload": ["k": [1, "two", nil, 2.5]],
        ])
        #expect(json["log_warning"] == nil)
        var warned = Self.sample
        warned.warning = "uncovered"
        #expect(try JSONValueEncoder().encode(warned)["log_warning"] == "uncovered")
    }

    @Test func roundTripsThroughJSONAndCanonicalBytes() throws {
        var warned = Self.sample
        warned.warning = "w"
        warned.next = 9
        for value in [Self.sample, warned] {
            let json = try JSONValueEncoder().encode(value)
            #expect(try JSONValueDecoder().decode(Sample.self, from: json) == value)
            // Through the bytes a socket carries, too.
            let parsed = try JSONParser.parse(CanonicalJSON.encode(json))
            #expect(try JSONValueDecoder().decode(Sample.self, from: parsed) == value)
        }
    }

    @Test func aJSONValueIsTakenAsItIs() throws {
        let value: JSONValue = ["a": [1.5, "s", ["b": nil]], "n": -0.0]
        #expect(try JSONValueEncoder().encode(value) == value)
        #expect(try JSONValueDecoder().decode(JSONValue.self, from: value) == value)
        // Through another coder too (JSONValue's own Codable conformance).
        let data = try JSONEncoder().encode(value)
        #expect(try JSONDecoder().decode(JSONValue.self, from: data) == ["a": [1.5, "s", ["b": nil]], "n": 0])
    }

    @Test func anAbsentOrNullOptionalDecodesAsNil() throws {
        var json = try JSONValueEncoder().encode(Self.sample)
        guard case .object(var o) = json else { Issue.record("not an object"); return }
        o["note"] = nil
        o["next_after"] = .null
        json = .object(o)
        let decoded = try JSONValueDecoder().decode(Sample.self, from: json)
        #expect(decoded.note == nil && decoded.next == nil)
    }

    static let badMembers: [(String, JSONValue, String, String)] = [
        ("rows", JSONValue.array([["seq": 1, "tags": []], ["seq": "2", "tags": []]]), "invalid_field", #"reply.rows[1].seq: expected an integer, found "2""#),
        ("count", 2.5, "invalid_field", "reply.count: expected an integer, found 2.5"),
        ("inner", ["seq": 1, "tags": [true]], "invalid_field", "reply.inner.tags[0]: expected a string, found true"),
        ("flag", "yes", "invalid_field", #"reply.flag: expected true or false, found "yes""#),
        ("by_name", ["SITE-01": nil], "invalid_field", "reply.by_name.SITE-01: expected an integer, found null"),
        ("rows", ["seq": 1], "invalid_field", "reply.rows: expected an array, found object"),
    ]

    @Test("errors name the member's path and what was expected", arguments: badMembers)
    func decodingErrorsNameThePath(member: String, value: JSONValue, code: String, message: String) throws {
        guard case .object(var o) = try JSONValueEncoder().encode(Self.sample) else { Issue.record("not an object"); return }
        o[member] = value
        #expect { _ = try JSONValueDecoder().decode(Sample.self, from: .object(o)) } throws: {
            let e = $0 as? TrialGateError
            return e?.code.rawValue == code && e?.message == message
        }
    }

    @Test func aMissingMemberIsNamed() throws {
        guard case .object(var o) = try JSONValueEncoder().encode(Self.sample) else { Issue.record("not an object"); return }
        o["inner"] = ["tags": []]
        #expect { _ = try JSONValueDecoder(context: "show").decode(Sample.self, from: .object(o)) } throws: {
            let e = $0 as? TrialGateError
            return e?.code == .missingField && e?.message == "show.inner.seq: is required and missing"
        }
    }

    @Test func integersMustBeExactAndInRange() throws {
        #expect(try JSONValueDecoder().decode(Int64.self, from: 9_007_199_254_740_991) == 9_007_199_254_740_991)
        #expect(throws: TrialGateError.self) { try JSONValueDecoder().decode(UInt8.self, from: 256) }
        #expect(throws: TrialGateError.self) { try JSONValueDecoder().decode(Int.self, from: 1e300) }
    }

    @Test func aNumberThatIsNotFiniteCannotBeEncoded() {
        #expect(throws: EncodingError.self) { try JSONValueEncoder().encode(["x": Double.nan]) }
        #expect(throws: EncodingError.self) { try JSONValueEncoder().encode([Double.infinity]) }
    }
}
