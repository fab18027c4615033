/// A strict RFC 8259 JSON parser over UTF-8 bytes.
///
/// Strict on purpose: the log and the protocol reject what other parsers tolerate (trailing commas,
/// comments, duplicate keys, lone surrogates, invalid UTF-8, nesting deeper than `maxDepth`).
public struct JSONParser {
    /// How deep arrays and objects may nest before the input is refused.
    public static let maxDepth = 64

    private let bytes: [UInt8]
    private var index = 0
    /// Whether to check, while parsing, that the text is exactly the RFC 8785 form of its value.
    private let tracksCanonical: Bool
    /// Cleared at the first byte that `CanonicalJSON.encode` of the parsed value would not reproduce.
    private var canonical = true

    private init(_ bytes: [UInt8], tracksCanonical: Bool = false) {
        self.bytes = bytes
        self.tracksCanonical = tracksCanonical
    }

    /// Parses one complete JSON text.
    /// - Throws: `TrialGateError` with code `invalid_json` naming the byte offset and the problem.
    public static func parse(_ text: String) throws -> JSONValue {
        try parse(Array(text.utf8))
    }

    /// Parses one complete JSON text from UTF-8 bytes.
    public static func parse(_ bytes: [UInt8]) throws -> JSONValue {
        var parser = JSONParser(bytes)
        parser.skipWhitespace()
        let value = try parser.parseValue(depth: 0)
        parser.skipWhitespace()
        if parser.index != bytes.count { throw parser.error("unexpected data after the JSON value") }
        return value
    }

    /// Parses one complete JSON text and says whether it is byte for byte the RFC 8785 form of its value,
    /// i.e. whether `CanonicalJSON.encode(value) == bytes`, without encoding it again: no whitespace, members
    /// in RFC 8785 order, only the escapes JCS writes, numbers in their ECMAScript form.
    public static func parseCanonical(_ bytes: [UInt8]) throws -> (value: JSONValue, isCanonical: Bool) {
        var parser = JSONParser(bytes, tracksCanonical: true)
        parser.skipWhitespace()
        let value = try parser.parseValue(depth: 0)
        parser.skipWhitespace()
        if parser.index != bytes.count { throw parser.error("unexpected data after the JSON value") }
        return (value, parser.canonical)
    }

    private func error(_ message: String) -> TrialGateError {
        TrialGateError(.invalidJSON, "invalid JSON at byte \(index): \(message)")
    }

    private mutating func skipWhitespace() {
        while index < bytes.count {
            switch bytes[index] {
            case 0x20, 0x09, 0x0A, 0x0D: index += 1; canonical = false
            default: return
            }
        }
    }

    private mutating func parseValue(depth: Int) throws -> JSONValue {
        guard index < bytes.count else { throw error("unexpected end of input") }
        switch bytes[index] {
        case UInt8(ascii: "{"): return try parseObject(depth: depth + 1)
        case UInt8(ascii: "["): return try parseArray(depth: depth + 1)
        case UInt8(ascii: "\""): return .string(try parseString())
        case UInt8(ascii: "t"): try expectLiteral("true"); return .bool(true)
        case UInt8(ascii: "f"): try expectLiteral("false"); return .bool(false)
        case UInt8(ascii: "n"): try expectLiteral("null"); return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return .number(try parseNumber())
        default: throw error("unexpected character")
        }
    }

    private mutating func expectLiteral(_ literal: String) throws {
        let lit = Array(literal.utf8)
        guard index + lit.count <= bytes.count else { throw error("unexpected end of input") }
        for i in 0..<lit.count where bytes[index + i] != lit[i] { throw error("invalid literal") }
        index += lit.count
    }

    private mutating func parseObject(depth: Int) throws -> JSONValue {
        if depth > Self.maxDepth { throw error("nesting deeper than \(Self.maxDepth)") }
        index += 1
        skipWhitespace()
        if index < bytes.count, bytes[index] == UInt8(ascii: "}") { index += 1; return .object([:]) }
        // Collect first, then build the dictionary at its final size: no rehashing as it grows.
        var pairs: [(String, JSONValue)] = []
        pairs.reserveCapacity(8)
        while true {
            skipWhitespace()
            guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { throw error("expected a member name") }
            let key = try parseString()
            if tracksCanonical, canonical, let previous = pairs.last?.0, !CanonicalJSON.precedes(previous, key) { canonical = false }
            skipWhitespace()
            guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else { throw error("expected ':'") }
            index += 1
            skipWhitespace()
            pairs.append((key, try parseValue(depth: depth)))
            skipWhitespace()
            guard index < bytes.count else { throw error("unexpected end of input") }
            if bytes[index] == UInt8(ascii: ",") { index += 1; continue }
            if bytes[index] == UInt8(ascii: "}") { index += 1; break }
            throw error("expected ',' or '}'")
        }
        var members = [String: JSONValue](minimumCapacity: pairs.count)
        for (key, value) in pairs where members.updateValue(value, forKey: key) != nil {
            throw error("duplicate member name \"\(key)\"")
        }
        return .object(members)
    }

    private mutating func parseArray(depth: Int) throws -> JSONValue {
        if depth > Self.maxDepth { throw error("nesting deeper than \(Self.maxDepth)") }
        index += 1
        var elements: [JSONValue] = []
        skipWhitespace()
        if index < bytes.count, bytes[index] == UInt8(ascii: "]") { index += 1; return .array(elements) }
        while true {
            skipWhitespace()
            elements.append(try parseValue(depth: depth))
            skipWhitespace()
            guard index < bytes.count else { throw error("unexpected end of input") }
            if bytes[index] == UInt8(ascii: ",") { index += 1; continue }
            if bytes[index] == UInt8(ascii: "]") { index += 1; return .array(elements) }
            throw error("expected ',' or ']'")
        }
    }

    private mutating func parseHex4() throws -> UInt16 {
        guard index + 4 <= bytes.count else { throw error("truncated \\u escape") }
        var value: UInt16 = 0
        for _ in 0..<4 {
            let c = bytes[index]
            let digit: UInt8
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = c - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = c - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = c - UInt8(ascii: "A") + 10
            default: throw error("invalid \\u escape")
            }
            value = value << 4 | UInt16(digit)
            index += 1
        }
        return value
    }

    private mutating func parseString() throws -> String {
        index += 1  // opening quote
        let start = index
        // Fast path: no escapes. ASCII needs no UTF-8 validation, and most strings in the log are ASCII.
        var bits: UInt8 = 0
        while index < bytes.count {
            let c = bytes[index]
            if c == UInt8(ascii: "\"") {
                let slice = bytes[start..<index]
                index += 1
                if bits < 0x80 { return String(decoding: slice, as: UTF8.self) }
                guard let s = String(validating: slice, as: UTF8.self) else {
                    index = start
                    throw error("invalid UTF-8 in string")
                }
                return s
            }
            bits |= c
            if c == UInt8(ascii: "\\") { break }
            if c < 0x20 { throw error("unescaped control character in string") }
            index += 1
        }
        var out = Array(bytes[start..<index])
        while index < bytes.count {
            let c = bytes[index]
            if c == UInt8(ascii: "\"") {
                index += 1
                guard let s = String(validating: out, as: UTF8.self) else { throw error("invalid UTF-8 in string") }
                return s
            }
            if c < 0x20 { throw error("unescaped control character in string") }
            if c != UInt8(ascii: "\\") { out.append(c); index += 1; continue }
            index += 1
            guard index < bytes.count else { break }
            let e = bytes[index]
            index += 1
            switch e {
            case UInt8(ascii: "\""): out.append(0x22)
            case UInt8(ascii: "\\"): out.append(0x5C)
            case UInt8(ascii: "/"): out.append(0x2F); canonical = false
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "u"):
                out.append(contentsOf: try parseUnicodeEscape())
            default:
                throw error("invalid escape")
            }
        }
        throw error("unterminated string")
    }

    /// The UTF-8 bytes of a `\uXXXX` escape, or of a surrogate pair of two, read from just after its `u`.
    private mutating func parseUnicodeEscape() throws -> [UInt8] {
        // JCS writes \u only for control characters without a short escape, as \u00xx in lowercase.
        if canonical, !Self.isCanonicalUnicodeEscape(bytes[(index - 2)..<min(index + 4, bytes.count)]) { canonical = false }
        let unit = try parseHex4()
        var scalarValue = UInt32(unit)
        if (0xD800...0xDBFF).contains(unit) {
            guard index + 6 <= bytes.count, bytes[index] == UInt8(ascii: "\\"), bytes[index + 1] == UInt8(ascii: "u")
            else { throw error("lone high surrogate") }
            index += 2
            let low = try parseHex4()
            guard (0xDC00...0xDFFF).contains(low) else { throw error("invalid low surrogate") }
            scalarValue = 0x10000 + ((UInt32(unit) - 0xD800) << 10) + (UInt32(low) - 0xDC00)
        } else if (0xDC00...0xDFFF).contains(unit) {
            throw error("lone low surrogate")
        }
        guard let scalar = Unicode.Scalar(scalarValue) else { throw error("invalid code point") }
        return Array(String(Character(scalar)).utf8)
    }

    /// Whether `\uXXXX` is how RFC 8785 writes its character: a control character other than
    /// \b \t \n \f \r, in lowercase hex.
    private static func isCanonicalUnicodeEscape(_ escape: ArraySlice<UInt8>) -> Bool {
        guard escape.count == 6 else { return false }
        let d = Array(escape.dropFirst(2))
        guard d[0] == UInt8(ascii: "0"), d[1] == UInt8(ascii: "0"), d[2] == UInt8(ascii: "0") || d[2] == UInt8(ascii: "1") else { return false }
        let low: UInt8
        switch d[3] {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): low = d[3] - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): low = d[3] - UInt8(ascii: "a") + 10
        default: return false
        }
        let value = (d[2] - UInt8(ascii: "0")) << 4 | low
        return ![0x08, 0x09, 0x0A, 0x0C, 0x0D].contains(value)
    }

    private mutating func parseNumber() throws -> Double {
        let start = index
        if bytes[index] == UInt8(ascii: "-") { index += 1 }
        func digits() -> Int {
            let s = index
            while index < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[index]) { index += 1 }
            return index - s
        }
        guard index < bytes.count else { throw error("truncated number") }
        if bytes[index] == UInt8(ascii: "0") {
            index += 1
        } else if digits() == 0 {
            throw error("invalid number")
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
            index += 1
            if digits() == 0 { throw error("invalid number: digits expected after '.'") }
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") {
            index += 1
            if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") { index += 1 }
            if digits() == 0 { throw error("invalid number: digits expected in exponent") }
        }
        // Fast path: plain integers of up to 15 digits are exact in a double.
        var negative = false
        var i = start
        if bytes[i] == UInt8(ascii: "-") { negative = true; i += 1 }
        if index - i <= 15 {
            var v: Int64 = 0
            var plain = true
            for j in i..<index {
                let c = bytes[j]
                guard c >= UInt8(ascii: "0"), c <= UInt8(ascii: "9") else { plain = false; break }
                v = v * 10 + Int64(c - UInt8(ascii: "0"))
            }
            if plain {
                // JCS writes zero as 0, never -0.
                if negative && v == 0 { canonical = false }
                return negative ? -Double(v) : Double(v)
            }
        }
        let text = String(decoding: bytes[start..<index], as: UTF8.self)
        guard let value = Double(text), value.isFinite else { throw error("number out of range") }
        // A non-zero literal too small for a double would be stored as 0 (or lose its digits as a subnormal).
        if value.magnitude < Double.leastNormalMagnitude,
           bytes[i..<index].prefix(while: { $0 != UInt8(ascii: "e") && $0 != UInt8(ascii: "E") })
               .contains(where: { $0 >= UInt8(ascii: "1") && $0 <= UInt8(ascii: "9") }) {
            throw error("number \(text) is too small to be represented (it would be stored as \(value))")
        }
        if tracksCanonical, canonical {
            var written: [UInt8] = []
            CanonicalJSON.write(.number(value), into: &written)
            if !written.elementsEqual(bytes[start..<index]) { canonical = false }
        }
        return value
    }
}
